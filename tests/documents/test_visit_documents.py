"""A signed visit's documents, on SQLite and PostgreSQL: the prescription and the
referral letter are written once as valid R4 (a Binary and a DocumentReference each),
read as PDFs a person reads in Thai, Lao or English, and only by those who may see the
patient's record."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mor.auth.roles import Role
from mor.fhir.errors import NotFound
from mor.fhir.store import Store
from mor.fhir.validation import validate_resource
from mor.fhir.visibility import EVERYTHING
from mor.services import fhir_calls
from mor.services.documents import (
    DocumentNotFound,
    VisitNotSigned,
    dispensing_label,
    document_for,
    write_visit_documents,
)
from mor.services.prescribing.formulary import Formulary
from mor.services.records.signing import sign
from mor.services.records.visit_note import Diagnosis, VisitNote
from mor.services.scheduling.lookup import find
from tests.documents.pdf_text import pdf_text, readable
from tests.records.test_signing import a_consult, full_note, hospital
from tests.video.conftest import Centre, clinician_at

FORMULARY = Formulary()
AMOXICILLIN = FORMULARY.get("amoxicillin-500-cap")
BANGKOK = ZoneInfo("Asia/Bangkok")
THAI_MONTHS = ("มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
               "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม")


async def a_signed_visit(store: Store, centre: Centre) -> str:
    """A visit whose note prescribes amoxicillin and paracetamol and refers the patient
    to Vajira Hospital, signed by the doctor: its encounter id."""
    encounter_id, _ = await a_consult(store, centre)
    await sign(store, centre.doctor.caller, encounter_id, full_note(await hospital(store)),
               formulary=FORMULARY, language="th")
    return encounter_id


async def documents(store: Store, centre: Centre, encounter_id: str, language: str
                    ) -> dict[str, tuple[bytes, str, str]]:
    """The visit's documents written in ``language``, read back by the doctor, by the
    LOINC code of their type."""
    ids = await write_visit_documents(store, centre.doctor.caller, encounter_id, language)
    found = {}
    for reference_id in ids:
        async with store.reading(EVERYTHING) as tx:
            reference = (await tx.read("DocumentReference", reference_id)).resource()
        found[reference["type"]["coding"][0]["code"]] = await document_for(
            store, centre.doctor.caller, reference_id)
    return found


def today_in_bangkok() -> datetime:
    return datetime.now(UTC).astimezone(BANGKOK)


async def test_the_thai_prescription_names_the_medicines_and_the_patient_in_thai(
        store: Store, centre: Centre) -> None:
    assert AMOXICILLIN is not None
    encounter_id = await a_signed_visit(store, centre)
    found = await documents(store, centre, encounter_id, "th")
    data, filename, title = found["57833-6"]
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert readable(AMOXICILLIN.names.th) in text
    assert "Amoxicillin" in text  # the generic name every pharmacist reads
    assert readable("Malee Test") in text
    assert readable("ครั้งละ 1 แคปซูล วันละ 3 ครั้ง นาน 7 วัน") in text
    assert "Penicillin" in text  # the allergy the record has, for the pharmacist
    today = today_in_bangkok()
    # The Buddhist Era, as Thai official papers count years: 2569 for 2026.
    assert readable(f"{today.day} {THAI_MONTHS[today.month - 1]} {today.year + 543}") in text
    assert title == "ใบสั่งยา"
    assert filename == f"prescription-{today.date().isoformat()}.pdf"


@pytest.mark.parametrize(("language", "name", "dose"), [
    ("lo", "lo", "ເທື່ອລະ 1 ແຄບຊູນ ມື້ລະ 3 ເທື່ອ ເປັນເວລາ 7 ມື້"),
    ("en", "en", "1 capsule 3 times a day for 7 days"),
])
async def test_the_prescription_is_in_the_language_asked_for(
        store: Store, centre: Centre, language: str, name: str, dose: str) -> None:
    assert AMOXICILLIN is not None
    encounter_id = await a_signed_visit(store, centre)
    data, _, _ = (await documents(store, centre, encounter_id, language))["57833-6"]
    text = pdf_text(data)
    assert readable(AMOXICILLIN.names.in_language(name)) in text
    # Said in the document's language, although the visit was signed in Thai.
    assert readable(dose) in text
    assert str(today_in_bangkok().year) in text  # Lao and English papers: Common Era
    assert str(today_in_bangkok().year + 543) not in text


async def test_the_referral_letter_names_the_hospital_and_the_reason(
        store: Store, centre: Centre) -> None:
    encounter_id = await a_signed_visit(store, centre)
    data, filename, _ = (await documents(store, centre, encounter_id, "en"))["57133-1"]
    text = pdf_text(data)
    assert filename == f"referral-{today_in_bangkok().date().isoformat()}.pdf"
    for shown in ("Referral letter", "Vajira Hospital", "Eye check for diabetes",
                  "Routine", "Malee Test", "I10", "152/94 mmHg",
                  "Blood pressure high; a sore throat.", "check HbA1c"):
        assert readable(shown) in text, shown


async def test_documents_are_valid_r4_and_the_attachment_describes_the_bytes(
        store: Store, centre: Centre) -> None:
    encounter_id = await a_signed_visit(store, centre)
    ids = await write_visit_documents(store, centre.doctor.caller, encounter_id, "th")
    assert len(ids) == 2
    async with store.reading(EVERYTHING) as tx:
        references = [(await tx.read("DocumentReference", i)).resource() for i in ids]
        binaries = [(await tx.read("Binary", r["content"][0]["attachment"]["url"]
                                   .removeprefix("Binary/"))).resource()
                    for r in references]
        encounter = (await tx.read("Encounter", encounter_id)).resource()
    assert {r["type"]["coding"][0]["code"] for r in references} == {"57833-6", "57133-1"}
    for reference, stored in zip(references, binaries, strict=True):
        validate_resource(reference)
        validate_resource(stored)
        data = base64.b64decode(stored["data"])
        attachment = reference["content"][0]["attachment"]
        assert attachment["contentType"] == stored["contentType"] == "application/pdf"
        assert attachment["size"] == len(data)
        assert attachment["hash"] == base64.b64encode(hashlib.sha1(data).digest()).decode()
        assert attachment["language"] == "th"
        assert reference["status"] == "current"
        assert reference["subject"] == encounter["subject"]
        assert reference["context"]["encounter"] == [
            {"reference": f"Encounter/{encounter_id}"}]
        assert reference["author"] == [{"reference": f"Practitioner/{centre.doctor.id}"}]
        assert reference["custodian"] == {"reference": f"Organization/{centre.id}"}


async def test_writing_the_documents_again_adds_nothing(store: Store,
                                                        centre: Centre) -> None:
    encounter_id = await a_signed_visit(store, centre)
    first = await write_visit_documents(store, centre.doctor.caller, encounter_id, "th")
    again = await write_visit_documents(store, centre.doctor.caller, encounter_id, "en")
    assert again == first
    async with store.reading(EVERYTHING) as tx:
        assert len(await find(tx, "DocumentReference", [])) == 2
        assert len(await find(tx, "Binary", [])) == 2


async def test_a_visit_without_medicines_or_referral_has_no_documents(
        store: Store, centre: Centre) -> None:
    encounter_id, _ = await a_consult(store, centre)
    await sign(store, centre.doctor.caller, encounter_id,
               VisitNote(subjective="Follow-up, feels well.", diagnoses=(Diagnosis("I10"),)),
               formulary=FORMULARY, language="en")
    assert await write_visit_documents(store, centre.doctor.caller, encounter_id,
                                       "en") == []


async def test_an_unsigned_visit_has_no_documents(store: Store, centre: Centre) -> None:
    encounter_id, _ = await a_consult(store, centre)
    with pytest.raises(VisitNotSigned):
        await write_visit_documents(store, centre.doctor.caller, encounter_id, "th")


async def test_a_clinician_without_access_to_the_patient_cannot_read_the_documents(
        store: Store, centre: Centre) -> None:
    encounter_id = await a_signed_visit(store, centre)
    ids = await write_visit_documents(store, centre.doctor.caller, encounter_id, "th")
    elsewhere = await other_centre_doctor(store)
    for reference_id in ids:
        with pytest.raises(DocumentNotFound):
            await document_for(store, elsewhere.caller, reference_id)
    with pytest.raises(VisitNotSigned):
        await write_visit_documents(store, elsewhere.caller, encounter_id, "th")


async def test_the_pharmacists_label_says_how_to_take_the_medicine(
        store: Store, centre: Centre) -> None:
    assert AMOXICILLIN is not None
    encounter_id = await a_signed_visit(store, centre)
    request = await prescribed(store, encounter_id, "Medication/amoxicillin-500-cap")
    data = await dispensing_label(store, centre.doctor.caller,
                                  f"MedicationRequest/{request['id']}", "th")
    text = pdf_text(data)
    for shown in (AMOXICILLIN.names.th, "ครั้งละ 1 แคปซูล วันละ 3 ครั้ง นาน 7 วัน",
                  "21 แคปซูล", "Malee Test", "เก็บให้พ้นมือเด็ก"):
        assert readable(shown) in text, shown
    elsewhere = await other_centre_doctor(store)
    with pytest.raises(DocumentNotFound):
        await dispensing_label(store, elsewhere.caller, f"MedicationRequest/{request['id']}",
                               "th")


async def other_centre_doctor(store: Store) -> Any:
    async with store.writing(EVERYTHING) as tx:
        other = await tx.create({"resourceType": "Organization", "active": True,
                                 "name": "Din Daeng Health Centre"})
    return await clinician_at(store, other.id, Role.DOCTOR, "Dr Other")


async def prescribed(store: Store, encounter_id: str, medication: str) -> dict[str, Any]:
    async with store.reading(EVERYTHING) as tx:
        found = await find(tx, "MedicationRequest", [
            ("encounter", f"Encounter/{encounter_id}")])
    return next(r for r in found if r["medicationReference"]["reference"] == medication)


async def test_a_clinician_without_access_to_the_patient_cannot_read_the_pdf_itself(
        store: Store, centre: Centre) -> None:
    encounter_id = await a_signed_visit(store, centre)
    ids = await write_visit_documents(store, centre.doctor.caller, encounter_id, "th")
    async with store.reading(EVERYTHING) as tx:
        reference = (await tx.read("DocumentReference", ids[0])).resource()
    elsewhere = await other_centre_doctor(store)
    with pytest.raises(NotFound):
        await fhir_calls.read(store, elsewhere.caller,
                              reference["content"][0]["attachment"]["url"])
