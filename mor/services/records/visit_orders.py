"""What a visit orders, as R4 resources: the prescription (``MedicationRequest`` per
medicine, ``DetectedIssue`` per warning the prescriber overrode, and the pharmacist's
``Task``), lab requests (``ServiceRequest``, with a ``Task`` for a blood draw at home) and
a referral (``ServiceRequest`` and ``Task``). The shapes are in
docs/consultation-record.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from mor.services.prescribing.dosage import dosage_text
from mor.services.prescribing.formulary import label
from mor.services.prescribing.model import (
    DOSE_UNITS,
    ROUTES,
    SNOMED_SYSTEM,
    UCUM_SYSTEM,
    Entry,
    UsualDose,
)
from mor.services.prescribing.warnings import PrescribingWarning
from mor.services.records.lab_tests import BY_LOINC, LOINC
from mor.services.records.visit_clinical import Visit, new_id
from mor.services.records.visit_note import HomeCollection, Prescribed, Referral

TASK_SYSTEM: Final = "urn:mor:task"
PRESCRIPTION_SYSTEM: Final = "urn:mor:prescription"
VERIFY: Final = "verify-prescription"
HOME_COLLECTION: Final = "home-sample-collection"
REFERRAL: Final = "referral"
_SEVERITY: Final = {"high": "high", "moderate": "moderate", "low": "low"}
_ISSUE_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# v3 ActCode detected issue kinds: drug allergy alert, duplicate therapy, drug interaction.
_ISSUE_KIND: Final = {"allergy": ("DRG", "Drug Allergy Alert"),
                      "duplicate": ("DUPTHPY", "Duplicate Therapy Alert"),
                      "interaction": ("DRGINTACT", "Drug Interaction Alert")}
LABORATORY: Final = {"system": SNOMED_SYSTEM, "code": "108252007",
                     "display": "Laboratory procedure"}
PATIENT_REFERRAL: Final = {"system": SNOMED_SYSTEM, "code": "3457005",
                           "display": "Patient referral"}


def medication_request(item: Prescribed, entry: Entry, visit: Visit, group: str,
                       language: str, issues: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One medicine of the prescription; its dosage text in ``language`` (the patient's)."""
    dose = UsualDose(item.dose, entry.dose.unit, item.per_day, item.days, item.as_needed)
    route_code, route_display = ROUTES[entry.route]
    repeat: dict[str, Any] = {"frequency": item.per_day, "period": 1, "periodUnit": "d"}
    if item.days is not None:
        repeat["boundsDuration"] = _days(item.days)
    dosage: dict[str, Any] = {
        "text": dosage_text(dose, language), "timing": {"repeat": repeat},
        "route": {"coding": [{"system": SNOMED_SYSTEM, "code": route_code,
                              "display": route_display}]}}
    if item.as_needed:
        dosage["asNeededBoolean"] = True
    unit_code, words = DOSE_UNITS[entry.dose.unit]
    if item.dose is not None:
        dosage["doseAndRate"] = [{"doseQuantity": {
            "value": item.dose, "unit": words.en, "system": UCUM_SYSTEM, "code": unit_code}}]
    dispense: dict[str, Any] = {}
    quantity = item.quantity_needed
    if quantity is not None:
        dispense["quantity"] = {"value": quantity, "unit": words.en, "system": UCUM_SYSTEM,
                                "code": unit_code}
    if item.days is not None:
        dispense["expectedSupplyDuration"] = _days(item.days)
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest", "id": new_id(), "status": "active",
        "intent": "order",
        "groupIdentifier": {"system": PRESCRIPTION_SYSTEM, "value": group},
        "medicationReference": {"reference": f"Medication/{entry.id}",
                                "display": label(entry, "en")},
        **visit.references(), "authoredOn": visit.when,
        "requester": {"reference": f"Practitioner/{visit.practitioner_id}"},
        "dosageInstruction": [dosage],
    }
    if visit.organization_id:
        request["performer"] = {"reference": f"Organization/{visit.organization_id}"}
    if dispense:
        request["dispenseRequest"] = dispense
    if issues:
        request["detectedIssue"] = [{"reference": f"DetectedIssue/{i['id']}"} for i in issues]
    return request


def detected_issue(warning: PrescribingWarning, text: str, visit: Visit,
                   implicated: Sequence[str]) -> dict[str, Any]:
    """A warning the prescriber saw and overrode, with who did and when."""
    code, display = _ISSUE_KIND[warning.kind]
    return {
        "resourceType": "DetectedIssue", "id": new_id(), "status": "final",
        "code": {"coding": [{"system": _ISSUE_CODE, "code": code, "display": display}]},
        "severity": _SEVERITY[warning.severity],
        "patient": {"reference": f"Patient/{visit.patient_id}"},
        "identifiedDateTime": visit.when,
        "implicated": [{"reference": reference} for reference in implicated],
        "detail": text,
        "mitigation": [{"action": {"text": "Prescribed after the warning was seen"},
                        "date": visit.when,
                        "author": {"reference": f"Practitioner/{visit.practitioner_id}"}}],
    }


def verification_task(requests: Sequence[dict[str, Any]], visit: Visit) -> dict[str, Any]:
    return _task(VERIFY, "Check and dispense the prescription", visit,
                 based_on=[f"MedicationRequest/{r['id']}" for r in requests])


def lab_requests(labs: Sequence[str], visit: Visit, home: HomeCollection | None
                 ) -> list[dict[str, Any]]:
    found = []
    for code in labs:
        test = BY_LOINC.get(code)
        if test is None:
            raise ValueError(f"{code} is not a lab test of the catalogue")
        request: dict[str, Any] = {
            "resourceType": "ServiceRequest", "id": new_id(), "status": "active",
            "intent": "order", "category": [{"coding": [LABORATORY]}],
            "code": {"coding": [{"system": LOINC, "code": test.loinc,
                                 "display": test.display}], "text": test.names.en},
            **visit.references(), "authoredOn": visit.when,
            "requester": {"reference": f"Practitioner/{visit.practitioner_id}"},
        }
        if home is not None:
            request["locationCode"] = [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                "code": "PTRES", "display": "Patient's Residence"}]}]
        if test.fasting:
            request["patientInstruction"] = "Do not eat for 8 hours before the sample."
        found.append(request)
    return found


def home_collection_task(window: HomeCollection, labs: Sequence[dict[str, Any]],
                         visit: Visit) -> dict[str, Any]:
    task = _task(HOME_COLLECTION, "Draw the samples at the patient's home", visit,
                 based_on=[f"ServiceRequest/{r['id']}" for r in labs])
    task["restriction"] = {"period": {"start": window.start.isoformat(timespec="seconds"),
                                      "end": window.end.isoformat(timespec="seconds")}}
    return task


def referral_request(referral: Referral, hospital_name: str, visit: Visit,
                     conditions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": new_id(), "status": "active",
        "intent": "order", "category": [{"coding": [PATIENT_REFERRAL]}],
        "priority": "urgent" if referral.urgent else "routine",
        "code": {"coding": [PATIENT_REFERRAL], "text": "Referral"},
        **visit.references(), "authoredOn": visit.when,
        "requester": {"reference": f"Practitioner/{visit.practitioner_id}"},
        "performer": [{"reference": f"Organization/{referral.hospital}",
                       "display": hospital_name}],
        "reasonCode": [{"text": referral.reason.strip()}],
    }
    if conditions:
        request["reasonReference"] = [{"reference": f"Condition/{c['id']}"}
                                      for c in conditions]
    return request


def referral_task(request: dict[str, Any], visit: Visit) -> dict[str, Any]:
    task = _task(REFERRAL, "Refer the patient", visit,
                 based_on=[f"ServiceRequest/{request['id']}"])
    task["owner"] = request["performer"][0]
    return task


def _task(code: str, text: str, visit: Visit, *, based_on: list[str]) -> dict[str, Any]:
    task: dict[str, Any] = {
        "resourceType": "Task", "id": new_id(), "status": "requested", "intent": "order",
        "code": {"coding": [{"system": TASK_SYSTEM, "code": code}], "text": text},
        "basedOn": [{"reference": reference} for reference in based_on],
        "for": {"reference": f"Patient/{visit.patient_id}"},
        "encounter": {"reference": f"Encounter/{visit.encounter_id}"},
        "authoredOn": visit.when, "lastModified": visit.when,
        "requester": {"reference": f"Practitioner/{visit.practitioner_id}"},
    }
    if visit.organization_id:
        task["owner"] = {"reference": f"Organization/{visit.organization_id}"}
    return task


def _days(count: int) -> dict[str, Any]:
    return {"value": count, "unit": "day", "system": UCUM_SYSTEM, "code": "d"}
