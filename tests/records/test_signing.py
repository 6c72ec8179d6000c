"""Signing a visit's note, on SQLite and PostgreSQL: the whole visit lands in the record
as valid R4 resources in one go, a warning must be acknowledged before a medicine is
prescribed, bad input is refused with a reason, and a refused or failed signature
leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mor.fhir.store import Store
from mor.fhir.validation import validate_resource
from mor.fhir.visibility import EVERYTHING
from mor.services.prescribing.formulary import Formulary, seed
from mor.services.records.drafts import Drafts
from mor.services.records.signing import (
    VisitRefused,
    WarningsNotAcknowledged,
    prescribing_warnings,
    sign,
)
from mor.services.records.visit_note import (
    AllergyFound,
    Diagnosis,
    HomeCollection,
    Prescribed,
    Referral,
    VisitNote,
    Vitals,
    note_from_json,
)
from mor.services.scheduling.lookup import find
from mor.services.video.consults import admit, walk_in
from tests.records.patient_record import make_record
from tests.video.conftest import Centre

FORMULARY = Formulary()


async def a_consult(store: Store, centre: Centre) -> tuple[str, str]:
    """A patient with a record (allergic to penicillin, taking amlodipine and metformin)
    whom the doctor admitted into a walk-in consult: (encounter id, patient id)."""
    await seed(store)
    booked = await centre.booking(store)
    await make_record(store, None, patient_id=booked.patient.id)
    consult = await walk_in(store, booked.patient.caller, booked.patient.id, centre.id)
    await admit(store, centre.doctor.caller, consult.encounter_id)
    return consult.encounter_id, booked.patient.id


async def hospital(store: Store) -> str:
    async with store.writing(EVERYTHING) as tx:
        return (await tx.create({"resourceType": "Organization", "name": "Vajira Hospital",
                                 "active": True})).id


def full_note(hospital_id: str, *, acknowledged: bool = True) -> VisitNote:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    return VisitNote(
        subjective="Headache for three days.\nNo fever.",
        objective="Alert, looks well.",
        assessment="Blood pressure high; a sore throat.",
        plan="Raise the blood pressure medicine; check HbA1c.",
        advice="Take less salt.",
        vitals=Vitals(systolic=152, diastolic=94, heart_rate=78, temperature=37.2,
                      spo2=98, weight=70, height=165),
        diagnoses=(Diagnosis("I10"), Diagnosis("J02.9", provisional=True)),
        allergies=(AllergyFound(text="Shrimp", category="food", reaction="Rash"),),
        prescribed=(
            Prescribed("amoxicillin-500-cap", dose=1, per_day=3, days=7,
                       warnings_acknowledged=acknowledged),
            Prescribed("paracetamol-500-tab", dose=1, per_day=4, days=3, as_needed=True),
        ),
        labs=("4548-4", "2160-0"),
        home_collection=HomeCollection(tomorrow, tomorrow + timedelta(hours=2)),
        referral=Referral(hospital_id, "Eye check for diabetes"),
    )


async def of_visit(store: Store, resource_type: str, encounter_id: str,
                   patient_id: str) -> list[dict[str, Any]]:
    async with store.reading(EVERYTHING) as tx:
        param = ("patient", f"Patient/{patient_id}")
        found = await find(tx, resource_type, [param])
    return [r for r in found if f"Encounter/{encounter_id}" in str(r)]


async def test_a_signed_visit_is_in_the_record_as_valid_r4(store: Store,
                                                           centre: Centre) -> None:
    encounter_id, _patient_id = await a_consult(store, centre)
    signed = await sign(store, centre.doctor.caller, encounter_id,
                        full_note(await hospital(store)), formulary=FORMULARY,
                        language="th")

    async with store.reading(EVERYTHING) as tx:
        written = [(await tx.read(*path.split("/"))).resource() for path in signed.written]
    for resource in written:
        validate_resource(resource)  # raises on anything R4 does not allow
    kinds = sorted(r["resourceType"] for r in written)
    assert kinds.count("Observation") == 7  # BP panel, 5 single ones, BMI
    assert kinds.count("Condition") == 2
    assert kinds.count("MedicationRequest") == 2
    assert kinds.count("ServiceRequest") == 3  # two labs, one referral
    assert kinds.count("Task") == 3  # pharmacist, home collection, referral
    assert kinds.count("DetectedIssue") == 1  # amoxicillin for a penicillin allergy
    assert {"Composition", "Provenance", "Encounter", "AllergyIntolerance"} <= set(kinds)

    by_type = {r["resourceType"]: r for r in written}
    bmi = next(r for r in written if r["resourceType"] == "Observation"
               and r["code"]["coding"][0]["code"] == "39156-5")
    assert bmi["valueQuantity"] == {"value": 25.7, "unit": "kg/m2",
                                    "system": "http://unitsofmeasure.org", "code": "kg/m2"}
    pressure = next(r for r in written if r["resourceType"] == "Observation"
                    and r["code"]["coding"][0]["code"] == "85354-9")
    assert [c["valueQuantity"]["value"] for c in pressure["component"]] == [152, 94]
    assert by_type["Encounter"]["diagnosis"][0]["rank"] == 1
    codes = {r["code"]["coding"][0]["code"] for r in written
             if r["resourceType"] == "Condition"}
    assert codes == {"I10", "J02.9"}

    amoxicillin = next(r for r in written if r["resourceType"] == "MedicationRequest"
                       and r["medicationReference"]["reference"]
                       == "Medication/amoxicillin-500-cap")
    assert amoxicillin["dispenseRequest"]["quantity"]["value"] == 21
    assert amoxicillin["dosageInstruction"][0]["text"] == "ครั้งละ 1 แคปซูล วันละ 3 ครั้ง นาน 7 วัน"
    assert amoxicillin["groupIdentifier"]["value"] == signed.composition_id
    issue = by_type["DetectedIssue"]
    assert amoxicillin["detectedIssue"] == [{"reference": f"DetectedIssue/{issue['id']}"}]
    assert issue["severity"] == "high" and "allergic" in issue["detail"]
    assert issue["mitigation"][0]["author"]["reference"] == f"Practitioner/{centre.doctor.id}"

    task = next(r for r in written if r["resourceType"] == "Task"
                and r["code"]["coding"][0]["code"] == "verify-prescription")
    assert signed.prescription_task_id == task["id"]
    assert task["status"] == "requested"
    assert task["owner"] == {"reference": f"Organization/{centre.id}"}
    assert len(task["basedOn"]) == 2
    home = next(r for r in written if r["resourceType"] == "Task"
                and r["code"]["coding"][0]["code"] == "home-sample-collection")
    assert home["restriction"]["period"]["start"] < home["restriction"]["period"]["end"]

    note = by_type["Composition"]
    assert [s["code"]["coding"][0]["code"] for s in note["section"]] == [
        "61150-9", "61149-1", "51848-0", "18776-5", "69730-0"]
    assert "Headache for three days.<br/>No fever." in note["section"][0]["text"]["div"]
    provenance = by_type["Provenance"]
    assert {t["reference"] for t in provenance["target"]} == {
        p for p in signed.written if not p.startswith("Provenance/")}
    assert provenance["signature"][0]["who"]["reference"] == f"Practitioner/{centre.doctor.id}"


async def test_a_medicine_with_a_warning_waits_for_the_prescriber_to_acknowledge_it(
        store: Store, centre: Centre) -> None:
    encounter_id, patient_id = await a_consult(store, centre)
    note = full_note(await hospital(store), acknowledged=False)
    found = await prescribing_warnings(store, centre.doctor.caller, encounter_id, note,
                                       FORMULARY)
    assert [(w.index, [x.kind for x in w.warnings]) for w in found] == [(0, ["allergy"])]
    with pytest.raises(WarningsNotAcknowledged) as refused:
        await sign(store, centre.doctor.caller, encounter_id, note, formulary=FORMULARY,
                   language="en")
    assert [w.index for w in refused.value.unacknowledged] == [0]
    # Nothing of the visit was written.
    assert await of_visit(store, "Composition", encounter_id, patient_id) == []
    assert await of_visit(store, "Observation", encounter_id, patient_id) == []


async def test_a_visit_is_signed_once(store: Store, centre: Centre) -> None:
    encounter_id, _ = await a_consult(store, centre)
    note = VisitNote(subjective="Follow-up, feels well.", diagnoses=(Diagnosis("I10"),))
    await sign(store, centre.doctor.caller, encounter_id, note, formulary=FORMULARY,
               language="en")
    with pytest.raises(VisitRefused, match="signed already"):
        await sign(store, centre.doctor.caller, encounter_id, note, formulary=FORMULARY,
                   language="en")


@pytest.mark.parametrize(("note", "reason"), [
    (VisitNote(), "Write something"),
    (VisitNote(vitals=Vitals(systolic=1200)), "cannot be right"),
    (VisitNote(vitals=Vitals(systolic=80, diastolic=90)), "lower than the systolic"),
    (VisitNote(diagnoses=(Diagnosis("X99.99"),)), "not an ICD-10 code"),
    (VisitNote(prescribed=(Prescribed("snake-oil", 1, 1, 1),)), "not in the city formulary"),
    (VisitNote(prescribed=(Prescribed("paracetamol-500-tab", 1, 30, 3),)), "times a day"),
    (VisitNote(prescribed=(Prescribed("amlodipine-5-tab", 1, 1, None),)), "quantity"),
    (VisitNote(labs=("0000-0",)), "not a lab test"),
    (VisitNote(subjective="x", referral=Referral("nowhere", "eyes")), "hospital"),
])
async def test_bad_input_is_refused_with_a_reason_and_writes_nothing(
        store: Store, centre: Centre, note: VisitNote, reason: str) -> None:
    encounter_id, patient_id = await a_consult(store, centre)
    with pytest.raises(VisitRefused, match=reason):
        await sign(store, centre.doctor.caller, encounter_id, note, formulary=FORMULARY,
                   language="en")
    assert await of_visit(store, "Composition", encounter_id, patient_id) == []


async def test_only_a_clinician_of_the_visit_signs_and_only_a_doctor_prescribes(
        store: Store, centre: Centre) -> None:
    encounter_id, _ = await a_consult(store, centre)
    with pytest.raises(VisitRefused, match="Only a doctor can prescribe"):
        await sign(store, centre.nurse.caller, encounter_id, VisitNote(prescribed=(
            Prescribed("paracetamol-500-tab", 1, 3, 3),)), formulary=FORMULARY,
            language="en")
    with pytest.raises(VisitRefused, match="who saw the patient"):
        await sign(store, centre.nurse.caller, encounter_id,
                   VisitNote(subjective="Triage"), formulary=FORMULARY, language="en")


async def test_a_draft_comes_back_as_it_was_typed(store: Store, centre: Centre) -> None:
    drafts = Drafts(store.engine)
    note = full_note("hospital-1")
    assert note_from_json(note.as_json()) == note
    await drafts.save("encounter-1", "account-1", VisitNote(subjective="first"))
    await drafts.save("encounter-1", "account-1", note)
    found = await drafts.get("encounter-1", "account-1")
    assert found is not None and found.note == note
    assert await drafts.get("encounter-1", "someone-else") is None
    await drafts.discard("encounter-1", "account-1")
    assert await drafts.get("encounter-1", "account-1") is None
