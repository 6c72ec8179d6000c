"""What the documents of a signed visit are made from, read as the person asking (so
their access and the audit apply): the note, the prescription, the referral, the
patient, the clinician who signed and their health centre, and of the patient's record
what a hospital needs (allergies, current medicines, the visit's diagnoses and vital
signs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from mor.fhir.errors import Forbidden, Gone, NotFound
from mor.services.fhir_calls import Reads
from mor.services.records.lab_tests import LOINC
from mor.services.records.visit_composition import CONSULT_NOTE
from mor.services.records.visit_orders import PATIENT_REFERRAL, PRESCRIPTION_SYSTEM
from mor.services.scheduling.lookup import reference_id

_MOST: Final = "100"


class VisitNotSigned(LookupError):
    """The visit has no signed note the caller may see: there are no documents of it."""


@dataclass(frozen=True, slots=True)
class VisitRecord:
    encounter: dict[str, Any]
    note: dict[str, Any]  # the signed Composition
    patient: dict[str, Any]
    practitioner: dict[str, Any] | None  # who signed
    centre: dict[str, Any] | None  # the health centre's Organization
    centre_location: dict[str, Any] | None  # where its address is kept
    prescription: list[dict[str, Any]]  # the MedicationRequests of the note's group
    referral: dict[str, Any] | None  # the referral ServiceRequest
    hospital: dict[str, Any] | None  # the Organization referred to
    allergies: list[dict[str, Any]]
    current: list[dict[str, Any]]  # the patient's MedicationRequests that stand
    medications: dict[str, dict[str, Any]]  # by "Medication/id"
    conditions: list[dict[str, Any]]  # this visit's diagnoses
    vitals: list[dict[str, Any]]  # this visit's vital-sign Observations

    @property
    def patient_id(self) -> str:
        return str(self.patient["id"])

    @property
    def signed_at(self) -> datetime:
        return datetime.fromisoformat(str(self.note["date"]))


async def read_visit(reads: Reads, encounter_id: str) -> VisitRecord:
    encounter = await _read(reads, f"Encounter/{encounter_id}")
    patient_id = reference_id(encounter and encounter.get("subject"), "Patient")
    if encounter is None or patient_id is None:
        raise VisitNotSigned(encounter_id)
    visit = ("encounter", f"Encounter/{encounter_id}")
    notes = (await reads.search("Composition", [
        visit, ("status", "final"), ("type", f"{LOINC}|{CONSULT_NOTE[0]}"),
        ("_count", "1")])).matches
    if not notes:
        raise VisitNotSigned(encounter_id)
    note = notes[0]
    patient = await _read(reads, f"Patient/{patient_id}")
    if patient is None:
        raise VisitNotSigned(encounter_id)
    author = reference_id((note.get("author") or [{}])[0], "Practitioner")
    centre_id = (reference_id(note.get("custodian"), "Organization")
                 or reference_id(encounter.get("serviceProvider"), "Organization"))
    prescription = await reads.search("MedicationRequest", [
        visit, ("_include", "MedicationRequest:medication"), ("_count", _MOST)])
    current = await reads.search("MedicationRequest", [
        ("patient", f"Patient/{patient_id}"), ("status", "active,on-hold"),
        ("_include", "MedicationRequest:medication"), ("_count", _MOST)])
    referrals = (await reads.search("ServiceRequest", [
        visit, ("category", f"{PATIENT_REFERRAL['system']}|{PATIENT_REFERRAL['code']}"),
        ("_count", "1")])).matches
    referral = referrals[0] if referrals else None
    hospital_id = (reference_id((referral.get("performer") or [{}])[0], "Organization")
                   if referral else None)
    locations = (await reads.search("Location", [
        ("organization", f"Organization/{centre_id}"), ("_count", "1")])).matches \
        if centre_id else []
    group = {"system": PRESCRIPTION_SYSTEM, "value": note["id"]}
    return VisitRecord(
        encounter=encounter, note=note, patient=patient,
        practitioner=await _read(reads, f"Practitioner/{author}") if author else None,
        centre=await _read(reads, f"Organization/{centre_id}") if centre_id else None,
        centre_location=locations[0] if locations else None,
        prescription=[r for r in prescription.matches if r.get("groupIdentifier") == group],
        referral=referral,
        hospital=await _read(reads, f"Organization/{hospital_id}") if hospital_id else None,
        allergies=(await reads.search("AllergyIntolerance", [
            ("patient", f"Patient/{patient_id}"),
            ("clinical-status:not", "inactive,resolved"),
            ("verification-status:not", "entered-in-error,refuted"),
            ("_count", _MOST)])).matches,
        current=current.matches,
        medications={f"Medication/{m['id']}": m
                     for m in (*prescription.included, *current.included)
                     if m.get("resourceType") == "Medication"},
        conditions=(await reads.search("Condition", [
            visit, ("verification-status:not", "entered-in-error,refuted"),
            ("_count", _MOST)])).matches,
        vitals=(await reads.search("Observation", [
            visit, ("category", "vital-signs"), ("status:not", "entered-in-error,cancelled"),
            ("_count", _MOST)])).matches,
    )


async def _read(reads: Reads, path: str) -> dict[str, Any] | None:
    try:
        return await reads.read(path)
    except (NotFound, Gone, Forbidden):
        return None
