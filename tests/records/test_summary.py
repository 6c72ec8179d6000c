"""The summary of a patient's record a clinician sees beside a video call, on SQLite and
PostgreSQL: what stands in the record and nothing else, only for a reader the patient's
consent lets see it, and every reading recorded."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import pytest

from mor.auth.break_glass import BreakGlass
from mor.auth.callers import person_caller
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services import consents
from mor.services.records.elements import Concept, PartialDate, Quantity
from mor.services.records.summary import RecordNotShared, record_summary
from mor.services.scheduling.lookup import find
from mor.services.video.consults import admit, walk_in
from tests.records.patient_record import ICD_10, encounter, make_record
from tests.scheduling.centre import patient_caller
from tests.video.conftest import Centre

TODAY = date(2025, 3, 10)


async def test_the_summary_shows_what_stands_in_the_record(store: Store,
                                                           centre: Centre) -> None:
    record = await make_record(store, centre.id)
    async with store.writing(EVERYTHING) as tx:
        current = (await tx.create(encounter(record.patient_id, centre.id,
                                             "2025-03-10T09:00:00+07:00",
                                             status="in-progress"))).id
    summary = await record_summary(store, centre.doctor.caller, record.patient_id,
                                   today=TODAY, current_encounter=current)

    patient = summary.patient
    assert (patient.name, patient.gender, patient.birth_date, patient.age) == (
        "Somsri Jaidee", "female", PartialDate(1961, 3, 15), 63)
    assert not patient.age_is_approximate
    # Active problems, newest onset first; the resolved one and the one in error left out.
    assert [(p.name, p.onset) for p in summary.problems] == [
        (Concept("Type 2 diabetes mellitus without complications", ICD_10, "E11.9"),
         PartialDate(2019, 6, 2)),
        (Concept("Essential (primary) hypertension", ICD_10, "I10"), PartialDate(2015))]
    assert summary.problems[1].name.icd_10 == "I10"
    # Prescriptions (the Medication referred to named), then what the patient takes.
    assert [(m.name.text, m.dosage, m.prescribed) for m in summary.medicines] == [
        ("Amlodipine 5 mg tablet", "1 tablet once a day", True),
        ("metformin hydrochloride 500 MG Oral Tablet", "1 tablet twice a day after meals",
         True),
        ("Paracetamol 500 mg", "when in pain", False)]
    assert [(a.substance.text, [r.text for r in a.reactions], a.high_risk)
            for a in summary.allergies] == [("Penicillin", ["Hives"], True)]
    assert summary.no_known_allergies == ()
    # The latest of each kind, in the order clinicians read them.
    assert [(v.kind.key, v.values) for v in summary.vital_signs] == [
        ("85354-9", (Quantity(132, "mm[Hg]"), Quantity(84, "mm[Hg]"))),
        ("8867-4", (Quantity(72, "/min"),)),
        ("8310-5", (Quantity(36.6, "Cel"),)),
        ("59408-5", (Quantity(97, "%"),)),
        ("29463-7", (Quantity(61.5, "kg"),))]
    assert {str(v.effective) for v in summary.vital_signs} == {"2025-03-01 09:12:00+07:00"}
    # Past visits, newest first: not the one under way, nor the one cancelled.
    assert [(v.start.isoformat() if v.start else None, [r.text for r in v.reasons])
            for v in summary.visits] == [
        ("2025-03-01T09:00:00+07:00", ["Fever and cough"]),
        ("2024-11-02T09:00:00+07:00", ["Blood pressure follow-up"])]
    assert {v.centre("en") for v in summary.visits} == {"Bang Rak Health Centre"}
    assert {v.centre("th") for v in summary.visits} == {"ศูนย์บริการสาธารณสุข บางรัก"}
    assert {v.class_code for v in summary.visits} == {"AMB"}
    shown = {p.condition_id for p in summary.problems} | {
        m.reference.split("/")[1] for m in summary.medicines} | {
        a.allergy_id for a in summary.allergies} | {
        v.observation_id for v in summary.vital_signs} | {
        v.encounter_id for v in summary.visits}
    assert shown == record.shown


async def test_an_empty_record_and_no_known_allergy(store: Store, centre: Centre) -> None:
    async with store.writing(EVERYTHING) as tx:
        patient_id = (await tx.create({
            "resourceType": "Patient", "birthDate": "1950",
            "managingOrganization": {"reference": f"Organization/{centre.id}"}})).id
    summary = await record_summary(store, centre.nurse.caller, patient_id, today=TODAY)
    assert (summary.problems, summary.medicines, summary.allergies,
            summary.no_known_allergies, summary.vital_signs, summary.visits) == (
        (), (), (), (), (), ())
    assert (summary.patient.age, summary.patient.age_is_approximate) == (75, True)

    async with store.writing(EVERYTHING) as tx:
        await tx.create({"resourceType": "AllergyIntolerance",
                         "patient": {"reference": f"Patient/{patient_id}"},
                         "clinicalStatus": {"coding": [{
                             "system": "http://terminology.hl7.org/CodeSystem/"
                                       "allergyintolerance-clinical", "code": "active"}]},
                         "code": {"coding": [{"system": "http://snomed.info/sct",
                                              "code": "716186003",
                                              "display": "No known allergy"}]}})
    summary = await record_summary(store, centre.nurse.caller, patient_id, today=TODAY)
    assert (summary.allergies, summary.no_known_allergies) == ((), ("716186003",))


async def test_the_record_is_read_only_as_the_patients_consent_allows(
        store: Store, centre: Centre) -> None:
    # A patient of no centre of the doctor's: a walk-in, say, registered elsewhere.
    caller, patient_id = await patient_caller(store)
    await make_record(store, None, patient_id=patient_id)
    with pytest.raises(RecordNotShared):
        await record_summary(store, centre.doctor.caller, patient_id, today=TODAY)

    await consents.share(store, caller, patient_id, f"Practitioner/{centre.doctor.id}",
                         "Dr Somchai")
    shared = await record_summary(store, centre.doctor.caller, patient_id, today=TODAY)
    assert [p.name.text for p in shared.problems] == [
        "Type 2 diabetes mellitus without complications", "Essential (primary) hypertension"]
    # Shared with the doctor, not with the nurse of the same centre.
    with pytest.raises(RecordNotShared):
        await record_summary(store, centre.nurse.caller, patient_id, today=TODAY)

    (sharing,) = await consents.sharing_of(store, caller, patient_id)
    await consents.withdraw(store, caller, sharing.consent_id)
    with pytest.raises(RecordNotShared):
        await record_summary(store, centre.doctor.caller, patient_id, today=TODAY)
    with pytest.raises(RecordNotShared):
        await record_summary(store, centre.doctor.caller, "no-such-patient", today=TODAY)


async def summary_events(store: Store, practitioner_id: str) -> list[dict[str, Any]]:
    async with store.reading(EVERYTHING) as tx:
        return await find(tx, "AuditEvent", [
            ("agent", f"Practitioner/{practitioner_id}"), ("subtype", "operation"),
            ("_sort", "_lastUpdated")])


def query_of(event: dict[str, Any]) -> str:
    return next(base64.b64decode(e["query"]).decode() for e in event["entity"]
                if "query" in e)


async def test_each_reading_is_an_audit_record_in_the_patients_record(
        store: Store, centre: Centre) -> None:
    record = await make_record(store, centre.id)
    await record_summary(store, centre.doctor.caller, record.patient_id, today=TODAY)

    (event,) = await summary_events(store, centre.doctor.id)
    assert (event["action"], event["outcome"]) == ("E", "0")
    assert event["agent"][0]["who"]["reference"] == f"Practitioner/{centre.doctor.id}"
    assert query_of(event) == f"Patient/{record.patient_id}/$summary"
    named = {e["what"]["reference"] for e in event["entity"] if "what" in e}
    # The patient, so they find it among who saw their record, and all that was shown.
    assert f"Patient/{record.patient_id}" in named
    ids = {reference.split("/")[1] for reference in named}
    assert record.shown <= ids
    assert not record.hidden & ids

    # A refused reading is recorded too, with its outcome.
    _, stranger = await patient_caller(store)
    with pytest.raises(RecordNotShared):
        await record_summary(store, centre.doctor.caller, stranger, today=TODAY)
    refused = (await summary_events(store, centre.doctor.id))[-1]
    assert (refused["outcome"], query_of(refused)) == ("4", f"Patient/{stranger}/$summary")
    assert refused["outcomeDesc"]


async def test_the_clinician_in_a_consult_reads_the_patients_record(
        store: Store, centre: Centre) -> None:
    booked = await centre.booking(store)  # booking registers the patient at the centre
    await make_record(store, None, patient_id=booked.patient.id)
    consult = await walk_in(store, booked.patient.caller, booked.patient.id, centre.id)
    await admit(store, centre.nurse.caller, consult.encounter_id)
    summary = await record_summary(store, centre.nurse.caller, booked.patient.id,
                                   today=TODAY, current_encounter=consult.encounter_id)
    assert summary.patient.name == "Malee Test"
    assert consult.encounter_id not in {v.encounter_id for v in summary.visits}


async def test_in_an_emergency_the_glass_broken_reaches_the_record_and_says_why(
        store: Store, centre: Centre) -> None:
    _, patient_id = await patient_caller(store)
    await make_record(store, None, patient_id=patient_id)
    doctor = centre.doctor.caller
    with pytest.raises(RecordNotShared):
        await record_summary(store, doctor, patient_id, today=TODAY)
    assert doctor.account is not None
    reason = "Unconscious on arrival, no one to ask about allergies"
    await BreakGlass(store.engine).open(doctor.account, patient_id, reason)
    emergency = await person_caller(store, doctor.account)
    summary = await record_summary(store, emergency, patient_id, today=TODAY)
    assert [a.substance.text for a in summary.allergies] == ["Penicillin"]
    event = (await summary_events(store, centre.doctor.id))[-1]
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "BTG"
    assert event["purposeOfEvent"][0]["text"] == reason
