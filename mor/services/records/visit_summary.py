"""A signed visit as its patient reads it afterwards: the diagnoses, the advice, each
medicine with how to take it, the lab tests (and the home blood draw), the referral, the
visit's documents, and where the medicines are on their way home. Read as the reader,
so the patient (or a family member acting for them) reads their own, audited."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from mor.auth.policy import Principal
from mor.fhir.errors import Forbidden, Gone, NotFound
from mor.fhir.permissions import Access
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services import fhir_calls
from mor.services.pharmacy.prescription import DELIVER, DELIVERY_STATUS_SYSTEM
from mor.services.prescribing.formulary import FORMULARY_SYSTEM, Formulary, label
from mor.services.records import visit_composition
from mor.services.records.lab_tests import BY_LOINC
from mor.services.records.visit_clinical import ICD10
from mor.services.records.visit_orders import HOME_COLLECTION, TASK_SYSTEM
from mor.services.records.vital_signs import LOINC
from mor.services.scheduling.lookup import find, reference_id
from mor.services.terminology import icd10

_MOST: Final = 100


class VisitNotFound(LookupError):
    """No signed visit of this id that the reader may see."""


@dataclass(frozen=True, slots=True)
class MedicineToTake:
    name: str  # in the reader's language, with its strength
    how: str  # the prescriber's instructions, in the language they were written in
    status: str  # the MedicationRequest's: active, on-hold, completed, ...


@dataclass(frozen=True, slots=True)
class LabRequested:
    name: str
    fasting: bool


@dataclass(frozen=True, slots=True)
class ReferralMade:
    hospital: str
    reason: str
    urgent: bool


@dataclass(frozen=True, slots=True)
class Delivery:
    task_id: str
    status: str  # urn:mor:delivery-status: packed, on-the-way, ...
    method: str  # rider, post or pickup
    tracking: str | None


@dataclass(frozen=True, slots=True)
class VisitSummary:
    encounter_id: str
    patient_id: str
    signed_at: datetime | None
    diagnoses: tuple[tuple[str, str], ...]  # (ICD-10 code, name in the reader's language)
    advice: str
    medicines: tuple[MedicineToTake, ...]
    labs: tuple[LabRequested, ...]
    home_collection: tuple[datetime, datetime] | None
    referral: ReferralMade | None
    documents: tuple[tuple[str, str], ...]  # (DocumentReference id, title)
    delivery: Delivery | None
    prescription_checked: bool  # the pharmacist accepted it


@dataclass(frozen=True, slots=True)
class SignedVisit:
    encounter_id: str
    signed_at: datetime | None
    title: str


async def signed_visits(store: Store, reader: Principal, patient_id: str
                        ) -> list[SignedVisit]:
    """The patient's signed visit notes, newest first, read as the reader (audited)."""
    notes = await fhir_calls.search(store, reader, "Composition", [
        ("subject", f"Patient/{patient_id}"), ("status", "final"),
        ("type", f"{LOINC}|{visit_composition.CONSULT_NOTE[0]}"), ("_sort", "-date"),
        ("_count", str(_MOST))])
    return [SignedVisit(encounter, datetime.fromisoformat(n["date"]) if n.get("date")
                        else None, str(n.get("title", "")))
            for n in notes for encounter in [reference_id(n.get("encounter"), "Encounter")]
            if encounter]


async def visit_summary(store: Store, reader: Principal, encounter_id: str, language: str,
                        formulary: Formulary | None = None) -> VisitSummary:
    """The visit's summary in ``language``; raises VisitNotFound when there is no signed
    note of it the reader may see."""
    formulary = formulary or Formulary()
    access = Access("GET", f"Encounter/{encounter_id}/$visit-summary", "")
    visit = ("encounter", f"Encounter/{encounter_id}")
    try:
        async with fhir_calls.reading(store, reader, access) as reads:
            notes = (await reads.search("Composition", [
                visit, ("status", "final"),
                ("type", f"{LOINC}|{visit_composition.CONSULT_NOTE[0]}"),
                ("_count", "1")])).matches
            if not notes:
                raise VisitNotFound(encounter_id)
            conditions = (await reads.search("Condition", [visit, ("_count", str(_MOST))])
                          ).matches
            requests = await reads.search("MedicationRequest", [
                visit, ("_include", "MedicationRequest:medication"),
                ("_count", str(_MOST))])
            services = (await reads.search("ServiceRequest", [
                visit, ("_count", str(_MOST))])).matches
            tasks = (await reads.search("Task", [visit, ("_count", str(_MOST))])).matches
            documents = (await reads.search("DocumentReference", [
                visit, ("status", "current"), ("_count", str(_MOST))])).matches
    except (NotFound, Gone, Forbidden):
        raise VisitNotFound(encounter_id) from None
    note = notes[0]
    medications = {f"Medication/{m['id']}": m for m in requests.included
                   if m.get("resourceType") == "Medication"}
    return VisitSummary(
        encounter_id=encounter_id,
        patient_id=reference_id(note.get("subject"), "Patient") or "",
        signed_at=datetime.fromisoformat(note["date"]) if note.get("date") else None,
        diagnoses=tuple(_diagnosis(c, language) for c in conditions if _icd10(c)),
        advice=_section_text(note, visit_composition.ADVICE[0]),
        medicines=tuple(_medicine(r, medications, formulary, language)
                        for r in requests.matches),
        labs=tuple(_lab(s, language) for s in services if _is_lab(s)),
        home_collection=_home_window(tasks),
        referral=next((_referral(s) for s in services if _is_referral(s)), None),
        documents=tuple((d["id"], _document_title(d)) for d in documents),
        delivery=_delivery(tasks),
        prescription_checked=any(_task_code(t) == "verify-prescription"
                                 and t.get("status") == "completed" for t in tasks),
    )


async def change_token(store: Store, encounter_id: str) -> str:
    """A token that changes when the visit's orders move on (the pharmacist's check, the
    delivery's steps): versions only, nothing of the patient, so a page may ask often
    without reading the record each time."""
    async with store.reading(EVERYTHING) as tx:
        tasks = await find(tx, "Task", [("encounter", f"Encounter/{encounter_id}")])
    return ";".join(sorted(f"{t['id']}:{t.get('meta', {}).get('versionId', '')}"
                           for t in tasks))


def _diagnosis(condition: Mapping[str, Any], language: str) -> tuple[str, str]:
    code = _icd10(condition) or ""
    found = icd10.lookup(code)
    return code, found.name(language) if found else str(
        (condition.get("code") or {}).get("text", code))


def _icd10(condition: Mapping[str, Any]) -> str | None:
    for coding in (condition.get("code") or {}).get("coding") or ():
        if coding.get("system") == ICD10 and coding.get("code"):
            return str(coding["code"])
    return None


def _medicine(request: Mapping[str, Any], medications: Mapping[str, Mapping[str, Any]],
              formulary: Formulary, language: str) -> MedicineToTake:
    reference = (request.get("medicationReference") or {})
    path = str(reference.get("reference", ""))
    medication = medications.get(path) or {}
    # A formulary Medication's id is its formulary id (mor.services.prescribing).
    entry = formulary.get(path.removeprefix("Medication/"))
    for identifier in medication.get("identifier") or ():
        if identifier.get("system") == FORMULARY_SYSTEM:
            entry = formulary.get(str(identifier.get("value", ""))) or entry
    name = label(entry, language) if entry else str(
        reference.get("display") or (medication.get("code") or {}).get("text", ""))
    how = "; ".join(str(d["text"]) for d in request.get("dosageInstruction") or ()
                    if d.get("text"))
    return MedicineToTake(name, how, str(request.get("status", "")))


def _is_lab(request: Mapping[str, Any]) -> bool:
    return any(c.get("code") == "108252007" for concept in request.get("category") or ()
               for c in concept.get("coding") or ())


def _is_referral(request: Mapping[str, Any]) -> bool:
    return any(c.get("code") == "3457005" for concept in request.get("category") or ()
               for c in concept.get("coding") or ())


def _lab(request: Mapping[str, Any], language: str) -> LabRequested:
    codes = [c.get("code") for c in (request.get("code") or {}).get("coding") or ()
             if c.get("system") == LOINC]
    test = BY_LOINC.get(str(codes[0])) if codes else None
    if test is None:
        return LabRequested(str((request.get("code") or {}).get("text", "")), False)
    return LabRequested(test.names.in_language(language), test.fasting)


def _referral(request: Mapping[str, Any]) -> ReferralMade:
    performers = request.get("performer") or [{}]
    reasons = [str(r.get("text", "")) for r in request.get("reasonCode") or ()]
    return ReferralMade(str(performers[0].get("display", "")), "; ".join(reasons),
                        request.get("priority") == "urgent")


def _home_window(tasks: Sequence[Mapping[str, Any]]) -> tuple[datetime, datetime] | None:
    for task in tasks:
        if _task_code(task) != HOME_COLLECTION or task.get("status") == "cancelled":
            continue
        period = (task.get("restriction") or {}).get("period") or {}
        if period.get("start") and period.get("end"):
            return (datetime.fromisoformat(period["start"]),
                    datetime.fromisoformat(period["end"]))
    return None


def _delivery(tasks: Sequence[Mapping[str, Any]]) -> Delivery | None:
    for task in tasks:
        if _task_code(task) != DELIVER:
            continue
        status = next((str(c.get("code")) for c in (task.get("businessStatus") or {})
                       .get("coding") or () if c.get("system") == DELIVERY_STATUS_SYSTEM),
                      "")
        inputs = {_input_name(i): i for i in task.get("input") or ()}
        method = inputs.get("method", {})
        tracking = inputs.get("tracking", {})
        return Delivery(task["id"], status,
                        str(_input_value(method) or ""), _input_value(tracking))
    return None


def _input_name(item: Mapping[str, Any]) -> str:
    concept = item.get("type") or {}
    codes = [str(c.get("code")) for c in concept.get("coding") or () if c.get("code")]
    return codes[0] if codes else str(concept.get("text", ""))


def _input_value(item: Mapping[str, Any]) -> str | None:
    for key in ("valueCode", "valueString"):
        if item.get(key):
            return str(item[key])
    coding = ((item.get("valueCodeableConcept") or {}).get("coding") or [{}])[0]
    return str(coding["code"]) if coding.get("code") else None


def _task_code(task: Mapping[str, Any]) -> str | None:
    for coding in (task.get("code") or {}).get("coding") or ():
        if coding.get("system") == TASK_SYSTEM:
            return str(coding.get("code"))
    return None


def _section_text(note: Mapping[str, Any], loinc: str) -> str:
    for section in note.get("section") or ():
        if any(c.get("code") == loinc for c in (section.get("code") or {}).get("coding")
               or ()):
            return visit_composition.plain_text((section.get("text") or {}).get("div", ""))
    return ""


def _document_title(document: Mapping[str, Any]) -> str:
    contents = document.get("content") or [{}]
    return str(document.get("description") or
               (contents[0].get("attachment") or {}).get("title", ""))

