"""The pharmacy's work list at a health centre: prescriptions to check, those queried
back to the prescriber, those accepted and waiting to be dispensed, and the deliveries
under way. Each shows the patient, the prescriber, the medicines and the warnings the
prescriber overrode, so the pharmacist checks with what the prescriber saw.

Read as the pharmacist, in one audited read: one search per list, with the requests,
patient and prescriber brought by ``_include``, then one search for the warnings
(``MedicationRequest.detectedIssue`` has no search parameter to include it by).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from mor.auth.policy import Principal
from mor.fhir.permissions import Access
from mor.fhir.store import Store
from mor.services import fhir_calls
from mor.services.fhir_calls import Found, Reads
from mor.services.person_names import display_name
from mor.services.pharmacy.delivery import method_of
from mor.services.pharmacy.prescription import (
    ACCEPTED,
    DELIVER_CODE,
    DELIVERY_STATUS_SYSTEM,
    PRESCRIPTION_STATUS_SYSTEM,
    VERIFY_CODE,
    business_status,
    check_works_at,
    pharmacist,
    reference_id,
)
from mor.services.prescribing.formulary import Formulary, label

_MOST_LISTED: Final = 100
_INCLUDES: Final = [
    ("_include", "Task:based-on:MedicationRequest"), ("_include", "Task:patient"),
    ("_include:iterate", "MedicationRequest:requester:Practitioner"),
    ("_count", str(_MOST_LISTED)), ("_sort", "authored-on"),
]
_DEFAULT_FORMULARY: Final = Formulary()


@dataclass(frozen=True, slots=True)
class Medicine:
    request_id: str
    medication_id: str | None
    name: str  # the formulary's label in the pharmacist's language
    dosage: str  # as the prescriber wrote it for the patient
    quantity: float | None
    unit: str
    status: str  # of the MedicationRequest


@dataclass(frozen=True, slots=True)
class OverriddenWarning:
    severity: str  # high, moderate, low
    detail: str
    mitigation: str  # what the prescriber said they did
    by: str  # the prescriber's name
    at: str  # when they overrode it


@dataclass(frozen=True, slots=True)
class Delivery:
    task_id: str
    method: str  # rider, post, pickup
    tracking: str | None
    status: str  # packed, on-the-way, ready-for-pickup


@dataclass(frozen=True, slots=True)
class Prescription:
    task_id: str  # the pharmacist's Task (the delivery's for a delivery under way)
    patient_id: str | None
    patient_name: str
    prescriber_id: str | None
    prescriber_name: str
    authored_on: str  # FHIR dateTime
    medicines: tuple[Medicine, ...]
    warnings: tuple[OverriddenWarning, ...]
    question: str | None = None  # what the pharmacist asked the prescriber, if held
    # The questions and answers so far, oldest first.
    notes: tuple[str, ...] = ()
    delivery: Delivery | None = None


@dataclass(frozen=True, slots=True)
class Queue:
    to_check: list[Prescription]
    queried: list[Prescription]  # on hold until the prescriber answers
    to_dispense: list[Prescription]  # accepted, not yet dispensed
    under_way: list[Prescription]  # deliveries not yet handed over


async def prescriptions_to_check(store: Store, caller: Principal, organization_id: str, *,
                                 formulary: Formulary = _DEFAULT_FORMULARY,
                                 language: str = "en") -> list[Prescription]:
    """The centre's prescriptions waiting for a pharmacist's check, oldest first."""
    return (await pharmacy_queue(store, caller, organization_id, formulary=formulary,
                                 language=language)).to_check


async def pharmacy_queue(store: Store, caller: Principal, organization_id: str, *,
                         formulary: Formulary = _DEFAULT_FORMULARY, language: str = "en"
                         ) -> Queue:
    """All four lists of the centre's pharmacy, oldest first."""
    check_works_at(pharmacist(caller), organization_id)
    centre = f"Organization/{organization_id}"
    verify = [("code", VERIFY_CODE)]
    access = Access("GET", f"Organization/{organization_id}/$pharmacy-queue", "")
    async with fhir_calls.reading(store, caller, access) as reads:
        searches = [
            await reads.search("Task", [*verify, ("owner", centre), ("status", "requested"),
                                        *_INCLUDES]),
            await reads.search("Task", [*verify, ("owner", centre), ("status", "on-hold"),
                                        *_INCLUDES]),
            # The pharmacist who accepted it owns it now; the centre is its requests'.
            await reads.search("Task", [
                *verify, ("status", "completed"),
                ("business-status", f"{PRESCRIPTION_STATUS_SYSTEM}|{ACCEPTED}"),
                ("based-on:MedicationRequest.intended-performer", centre), *_INCLUDES]),
            await reads.search("Task", [("code", DELIVER_CODE), ("owner", centre),
                                        ("status", "in-progress"), *_INCLUDES]),
        ]
        issues = await _issues(reads, searches)
    lists = [_prescriptions(found, issues, formulary, language) for found in searches]
    return Queue(*lists)


async def _issues(reads: Reads, searches: Iterable[Found]) -> dict[str, dict[str, Any]]:
    wanted = sorted({i for found in searches for r in found.included
                     if r.get("resourceType") == "MedicationRequest"
                     for i in _ids(r.get("detectedIssue"), "DetectedIssue")})
    if not wanted:
        return {}
    found = await reads.search("DetectedIssue", [("_id", ",".join(wanted)),
                                                 ("_count", str(len(wanted)))])
    return {i["id"]: i for i in found.matches}


def _prescriptions(found: Found, issues: Mapping[str, dict[str, Any]],
                   formulary: Formulary, language: str) -> list[Prescription]:
    by_path = {f"{r['resourceType']}/{r['id']}": r for r in found.included}
    listed = []
    for task in found.matches:
        requests = [by_path[ref] for ref in _references(task.get("basedOn"))
                    if ref in by_path]
        patient = by_path.get(str((task.get("for") or {}).get("reference")), {})
        prescriber_ref = next((str(r["requester"].get("reference")) for r in requests
                               if isinstance(r.get("requester"), dict)), "")
        prescriber = by_path.get(prescriber_ref, {})
        names = {prescriber_ref: display_name(prescriber, with_prefix=True)}
        warnings = [_warning(issues[i], names) for r in requests
                    for i in _ids(r.get("detectedIssue"), "DetectedIssue") if i in issues]
        listed.append(Prescription(
            task_id=task["id"], patient_id=reference_id(task.get("for"), "Patient"),
            patient_name=display_name(patient),
            prescriber_id=reference_id({"reference": prescriber_ref}, "Practitioner"),
            prescriber_name=names[prescriber_ref],
            authored_on=str(next((r.get("authoredOn") for r in requests), "")
                            or task.get("authoredOn", "")),
            medicines=tuple(_medicine(r, formulary, language) for r in requests),
            warnings=tuple(warnings),
            question=(task.get("statusReason") or {}).get("text"),
            notes=tuple(str(n.get("text", "")) for n in task.get("note") or ()),
            delivery=_delivery(task)))
    return listed


def _medicine(request: dict[str, Any], formulary: Formulary, language: str) -> Medicine:
    medication = request.get("medicationReference") or {}
    medication_id = reference_id(medication, "Medication")
    entry = formulary.get(medication_id) if medication_id else None
    quantity = (request.get("dispenseRequest") or {}).get("quantity") or {}
    dosage: dict[str, Any] = next(iter(request.get("dosageInstruction") or ()), {})
    return Medicine(
        request_id=request["id"], medication_id=medication_id,
        name=label(entry, language) if entry else str(medication.get("display", "")),
        dosage=str(dosage.get("text", "")), quantity=quantity.get("value"),
        unit=str(quantity.get("unit", "")), status=str(request.get("status", "")))


def _warning(issue: dict[str, Any], names: Mapping[str, str]) -> OverriddenWarning:
    mitigation: dict[str, Any] = next(iter(issue.get("mitigation") or ()), {})
    author = str((mitigation.get("author") or {}).get("reference", ""))
    return OverriddenWarning(
        severity=str(issue.get("severity", "")), detail=str(issue.get("detail", "")),
        mitigation=str((mitigation.get("action") or {}).get("text", "")),
        by=names.get(author) or author, at=str(mitigation.get("date", "")))


def _delivery(task: dict[str, Any]) -> Delivery | None:
    status = business_status(task, DELIVERY_STATUS_SYSTEM)
    if status is None:
        return None
    tracking = next((str(i.get("valueString")) for i in task.get("input") or ()
                     if "valueString" in i), None)
    return Delivery(task["id"], method_of(task), tracking, status)


def _references(references: Any) -> list[str]:
    return [str(r.get("reference")) for r in references or () if isinstance(r, dict)]


def _ids(references: Any, resource_type: str) -> list[str]:
    found = (reference_id(r, resource_type) for r in references or ())
    return [i for i in found if i is not None]
