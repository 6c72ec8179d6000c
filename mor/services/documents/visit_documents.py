"""The documents of a signed visit: written into the record once (its prescription and
its referral letter, each a ``Binary`` and a ``DocumentReference``), read back, and the
pharmacist's medicine label, made when it is printed.

Everything is read and written as the person asking, through the FHIR interactions, so
their access to the patient's record and the audit apply as to any client.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from mor.fhir.errors import Forbidden, Gone, NotFound
from mor.fhir.permissions import Access, Caller
from mor.fhir.store import Store
from mor.services import fhir_calls
from mor.services.documents.details import (
    centre_of,
    medicine_of,
    prescription_of,
    referral_of,
)
from mor.services.documents.document_resources import (
    PRESCRIPTION,
    REFERRAL,
    Authorship,
    DocumentKind,
    binary,
    document_id,
    document_reference,
    kind_of,
)
from mor.services.documents.label_pdf import label_pdf
from mor.services.documents.model import DispensingLabel
from mor.services.documents.prescription_pdf import prescription_pdf
from mor.services.documents.referral_pdf import referral_pdf
from mor.services.documents.texts import label
from mor.services.documents.visit_record import VisitRecord, read_visit
from mor.services.fhir_calls import Reads
from mor.services.person_names import display_name
from mor.services.prescribing.formulary import Formulary
from mor.services.records.visit_clinical import new_id
from mor.services.scheduling.lookup import reference_id

CITY_ZONE: Final = ZoneInfo("Asia/Bangkok")  # Vientiane keeps the same time


class DocumentNotFound(LookupError):
    """No such document, or it is of a record the caller may not see."""


async def write_visit_documents(store: Store, caller: Caller, encounter_id: str,
                                language: str, *, formulary: Formulary | None = None,
                                zone: ZoneInfo = CITY_ZONE) -> list[str]:
    """Write the signed visit's documents in ``language`` (th, lo or en): the
    prescription when it prescribed medicines, the referral letter when it referred the
    patient, all in one transaction. Returns their DocumentReference ids. A document the
    visit has already is kept as it is (in the language it was written in), so calling
    again adds nothing. Raises VisitNotSigned when the caller sees no signed note."""
    formulary = formulary or Formulary()
    access = Access("GET", f"Encounter/{encounter_id}/$documents", "")
    async with fhir_calls.reading(store, caller, access) as reads:
        record = await read_visit(reads, encounter_id)
        existing = (await reads.search("DocumentReference", [
            ("encounter", f"Encounter/{encounter_id}"), ("status", "current"),
            ("_count", "100")])).matches
    have = {kind: r["id"] for r in existing if (kind := kind_of(r)) is not None}

    # Drawn only when missing: a PDF costs more than everything else here.
    def prescription() -> bytes | None:
        details = prescription_of(record, language, formulary, zone)
        return prescription_pdf(details) if details else None

    def referral() -> bytes | None:
        details = referral_of(record, language, formulary, zone)
        return referral_pdf(details) if details else None

    makers: list[tuple[DocumentKind, Callable[[], bytes | None]]] = [
        (PRESCRIPTION, prescription), (REFERRAL, referral)]
    ids: list[str] = []
    writes: list[tuple[str, dict[str, Any]]] = []
    for kind, make in makers:
        if kind in have:
            ids.append(have[kind])
            continue
        data = make()
        if data is None:
            continue
        described_by, binary_id = document_id(encounter_id, kind), new_id()
        writes += [
            (f"Binary/{binary_id}", binary(binary_id, data, record.patient_id)),
            (f"DocumentReference/{described_by}", document_reference(
                described_by, binary_id, data, kind, label(kind.title, language), language,
                _authorship(record))),
        ]
        ids.append(described_by)
    if writes:
        await fhir_calls.transaction(store, caller, writes)
    return ids


async def document_for(store: Store, caller: Caller, document_reference_id: str, *,
                       zone: ZoneInfo = CITY_ZONE) -> tuple[bytes, str, str]:
    """A document of the record as (its bytes, a file name, its title), read as the
    caller; DocumentNotFound when there is none or its record is not theirs to see."""
    access = Access("GET", f"DocumentReference/{document_reference_id}", "")
    try:
        async with fhir_calls.reading(store, caller, access) as reads:
            reference = await reads.read(f"DocumentReference/{document_reference_id}")
            attachment = ((reference.get("content") or [{}])[0]).get("attachment") or {}
            binary_id = reference_id({"reference": attachment.get("url")}, "Binary")
            if binary_id is None:
                raise DocumentNotFound(document_reference_id)
            stored = await reads.read(f"Binary/{binary_id}")
    except (NotFound, Gone, Forbidden):
        raise DocumentNotFound(document_reference_id) from None
    kind = kind_of(reference)
    made = _day(str(reference.get("date") or ""), zone).isoformat()
    filename = f"{kind.file_stem if kind else 'document'}-{made}.pdf"
    title = str(attachment.get("title") or reference.get("description") or filename)
    return base64.b64decode(stored.get("data", "")), filename, title


async def dispensing_label(store: Store, caller: Caller, path: str, language: str, *,
                           formulary: Formulary | None = None,
                           zone: ZoneInfo = CITY_ZONE) -> bytes:
    """The label of one medicine, as a PDF in ``language``: for a ``MedicationDispense/
    <id>`` (its quantity, the day it was prepared) or a ``MedicationRequest/<id>`` not
    dispensed yet. Not stored: it is printed and stuck on the box."""
    formulary = formulary or Formulary()
    resource_type, _, _ = path.partition("/")
    if resource_type not in ("MedicationDispense", "MedicationRequest"):
        raise ValueError(f"{path}: a label is of a MedicationDispense or a "
                         "MedicationRequest")
    access = Access("GET", f"{path}/$label", "")
    try:
        async with fhir_calls.reading(store, caller, access) as reads:
            return await _label(reads, path, language, formulary, zone)
    except (NotFound, Gone, Forbidden):
        raise DocumentNotFound(path) from None


async def _label(reads: Reads, path: str, language: str, formulary: Formulary,
                 zone: ZoneInfo) -> bytes:
    found = await reads.read(path)
    request, dispense = found, None
    if found["resourceType"] == "MedicationDispense":
        dispense = found
        prescribed = reference_id((found.get("authorizingPrescription") or [{}])[0],
                                  "MedicationRequest")
        if prescribed is None:
            raise DocumentNotFound(path)
        request = await reads.read(f"MedicationRequest/{prescribed}")
    patient = await reads.read(f"Patient/{reference_id(request.get('subject'), 'Patient')}")
    prescriber_id = reference_id(request.get("requester"), "Practitioner")
    prescriber = await reads.read(f"Practitioner/{prescriber_id}") if prescriber_id else {}
    centre_id = (reference_id(request.get("performer"), "Organization")
                 or reference_id((dispense or {}).get("location"), "Organization"))
    centre = await reads.read(f"Organization/{centre_id}") if centre_id else None
    medications = {}
    medication = str((request.get("medicationReference") or {}).get("reference", ""))
    if medication.startswith("Medication/"):
        medications[medication] = await reads.read(medication)
    line = dict(request)
    if dispense is not None:
        # What the pharmacist gave, which may differ from what was asked for.
        if dispense.get("quantity"):
            line["dispenseRequest"] = {"quantity": dispense["quantity"]}
        if dispense.get("dosageInstruction"):
            line["dosageInstruction"] = dispense["dosageInstruction"]
    when = str((dispense or {}).get("whenPrepared") or request.get("authoredOn") or "")
    return label_pdf(DispensingLabel(
        language=language, centre=centre_of(centre, None, language),
        patient_name=display_name(patient),
        medicine=medicine_of(line, language, formulary, medications),
        prescriber=display_name(prescriber, with_prefix=True),
        day=_day(when, zone)))


def _authorship(record: VisitRecord) -> Authorship:
    return Authorship(
        patient_id=record.patient_id, encounter_id=str(record.encounter["id"]),
        practitioner_id=reference_id((record.note.get("author") or [{}])[0],
                                     "Practitioner"),
        organization_id=reference_id(record.note.get("custodian"), "Organization"),
        when=str(record.note["date"]))


def _day(moment: str, zone: ZoneInfo) -> date:
    if len(moment) <= 10:
        return date.fromisoformat(moment) if moment else datetime.now(zone).date()
    return datetime.fromisoformat(moment).astimezone(zone).date()
