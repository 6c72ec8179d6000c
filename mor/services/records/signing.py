"""Signing a visit: the clinician's note becomes the record, all at once or not at all.

Everything is read and written as the clinician, through the FHIR interactions, so the
patient's consent, the clinician's role and the audit apply as to any client: the
patient's allergies and current medicines for the prescribing warnings, then one FHIR
``transaction`` with the Encounter (on the version read, so two signatures of one visit
cannot both land), the note (``Composition``), vital signs, diagnoses, allergies, the
prescription and its pharmacist's ``Task``, lab requests, a referral, and the
clinician's signature (``Provenance``). The resources are those of
docs/consultation-record.md.

A medicine with a warning (an allergy, a duplicate, an interaction) is prescribed only
once the prescriber has said they saw it; the warning is kept with the prescription
(``DetectedIssue``), so the pharmacist sees it was overridden and by whom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.errors import NotFound, PreconditionFailed
from mor.fhir.permissions import Access
from mor.fhir.store import Store
from mor.messages import N_
from mor.services import fhir_calls
from mor.services.fhir_calls import Reads
from mor.services.prescribing.formulary import Formulary
from mor.services.prescribing.warnings import PrescribingWarning, check
from mor.services.records import visit_clinical, visit_composition, visit_orders
from mor.services.records.lab_tests import BY_LOINC, LOINC
from mor.services.records.visit_clinical import Visit
from mor.services.records.visit_composition import ADVICE, ASSESSMENT, OBJECTIVE, PLAN
from mor.services.records.visit_note import Prescribed, VisitNote, Vitals
from mor.services.terminology import icd10

CONSULTING_ROLES: Final = frozenset({Role.DOCTOR, Role.NURSE})
# What a vital sign may be, in the form's units: outside it is a typing mistake.
VITAL_RANGES: Final[dict[str, tuple[float, float, str]]] = {
    "systolic": (40, 300, "mmHg"), "diastolic": (20, 200, "mmHg"),
    "heart_rate": (20, 300, "/min"), "respiratory_rate": (4, 80, "/min"),
    "temperature": (30, 45, "°C"), "spo2": (50, 100, "%"),
    "weight": (0.5, 400, "kg"), "height": (30, 250, "cm"),
}
VITAL_NAMES: Final = {
    "systolic": N_("Systolic blood pressure"), "diastolic": N_("Diastolic blood pressure"),
    "heart_rate": N_("Pulse"), "respiratory_rate": N_("Breathing rate"),
    "temperature": N_("Temperature"), "spo2": N_("Oxygen saturation (SpO2)"),
    "weight": N_("Weight"), "height": N_("Height"),
}
_MOST_DAYS: Final = 365
# A visit at the centre (v3-ActCode), which signing closes with its appointment.
AMBULATORY_CODE: Final = "AMB"
_OPEN: Final = frozenset({"booked", "arrived", "checked-in", "in-progress"})
_HOME_WINDOW_AHEAD: Final = timedelta(days=60)


class VisitRefused(Exception):
    """A visit that cannot be signed as it is; ``message`` is a msgid whose ``{name}``
    fields are ``params`` (``what`` fields are msgids too, ``medicine`` fields formulary
    ids, for the reader's language to name)."""

    def __init__(self, message: str, **params: str) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


@dataclass(frozen=True, slots=True)
class ItemWarnings:
    index: int  # of the medicine in VisitNote.prescribed
    warnings: tuple[PrescribingWarning, ...]


class WarningsNotAcknowledged(VisitRefused):
    def __init__(self, unacknowledged: Sequence[ItemWarnings]) -> None:
        super().__init__(N_("Read the warnings about the medicines marked, and confirm you "
                            "prescribe them all the same, or change the prescription"))
        self.unacknowledged = tuple(unacknowledged)


@dataclass(frozen=True, slots=True)
class SignedVisit:
    encounter_id: str
    composition_id: str
    written: tuple[str, ...] = field(default=())  # Type/id of everything the visit wrote
    prescription_task_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Record:
    """What signing needs of the patient's record, read as the clinician."""

    encounter: dict[str, Any]
    version: str
    allergies: list[dict[str, Any]]
    current: list[dict[str, Any]]  # their MedicationRequests that stand
    medications: dict[str, dict[str, Any]]
    hospital: dict[str, Any] | None
    signed: bool  # a signed note of this visit exists
    # The appointment of a visit at the centre, which signing closes (a video consult's
    # call closes its own).
    appointment: dict[str, Any] | None = None


async def prescribing_warnings(store: Store, caller: Principal, encounter_id: str,
                               note: VisitNote, formulary: Formulary
                               ) -> list[ItemWarnings]:
    """The warnings about each medicine of ``note``, against the patient's recorded
    allergies (and those found at this visit), their current medicines and the other
    medicines of this prescription; for the screen to show as the doctor prescribes."""
    record = await _read_record(store, caller, encounter_id, note)
    return _warnings(note, record, formulary)


async def sign(store: Store, caller: Principal, encounter_id: str, note: VisitNote, *,
               formulary: Formulary, language: str, now: datetime | None = None
               ) -> SignedVisit:
    """Write the visit into the record, signed by the caller. ``language`` is the one
    the patient reads their medicines' instructions in."""
    practitioner_id = clinician_of(caller)
    _check_note(note, formulary, caller)
    record = await _read_record(store, caller, encounter_id, note)
    if not took_part(record.encounter, practitioner_id):
        raise VisitRefused(N_("Only a clinician who saw the patient in this visit can sign "
                              "its note"))
    if record.signed:
        raise VisitRefused(N_("This visit's note is signed already"))
    found = _warnings(note, record, formulary)
    unacknowledged = [w for w in found if not note.prescribed[w.index].warnings_acknowledged]
    if unacknowledged:
        raise WarningsNotAcknowledged(unacknowledged)
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    visit = Visit(encounter_id, _reference_id(record.encounter.get("subject")) or "",
                  practitioner_id, _reference_id(record.encounter.get("serviceProvider")),
                  at)
    writes, signed = _resources(note, visit, record, formulary, found, language)
    versions = {f"Encounter/{encounter_id}": record.version}
    if record.appointment is not None and record.appointment.get("status") in _OPEN:
        # Seen and signed: the visit at the centre is over.
        appointment = dict(record.appointment)
        path = f"Appointment/{appointment['id']}"
        writes.append((path, appointment | {"status": "fulfilled"}))
        versions[path] = str(record.appointment["meta"]["versionId"])
    try:
        await fhir_calls.transaction(store, caller, writes, if_match=versions)
    except PreconditionFailed:
        raise VisitRefused(N_("Someone changed this visit at the same moment; open it "
                              "again and sign once more")) from None
    return signed


def _resources(note: VisitNote, visit: Visit, record: _Record, formulary: Formulary,
               found: list[ItemWarnings], language: str
               ) -> tuple[list[tuple[str, dict[str, Any]]], SignedVisit]:
    observations = visit_clinical.vital_observations(note.vitals, visit)
    conditions = visit_clinical.conditions(note.diagnoses, visit)
    allergies = visit_clinical.allergy_intolerances(note.allergies, visit, formulary)
    composition_id = visit_clinical.new_id()
    warnings_of = {w.index: w.warnings for w in found}
    issues: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    for index, item in enumerate(note.prescribed):
        entry = formulary.get(item.medicine)
        assert entry is not None  # checked
        own = [visit_orders.detected_issue(
            warning, _english(warning), visit, [f"Medication/{entry.id}"])
            for warning in warnings_of.get(index, ())]
        issues += own
        requests.append(visit_orders.medication_request(item, entry, visit, composition_id,
                                                        language, own))
    task = visit_orders.verification_task(requests, visit) if requests else None
    labs = visit_orders.lab_requests(note.labs, visit, note.home_collection)
    home = (visit_orders.home_collection_task(note.home_collection, labs, visit)
            if note.home_collection is not None and labs else None)
    referral: list[dict[str, Any]] = []
    if note.referral is not None and record.hospital is not None:
        request = visit_orders.referral_request(
            note.referral, str(record.hospital.get("name", "")), visit, conditions)
        referral = [request, visit_orders.referral_task(request, visit)]

    def paths(resources: Sequence[dict[str, Any]]) -> list[str]:
        return [f"{r['resourceType']}/{r['id']}" for r in resources]

    entries = {
        OBJECTIVE: paths(observations),
        ASSESSMENT: paths(conditions + allergies),
        PLAN: paths(requests + labs + referral[:1]),
        ADVICE: [],
    }
    title = "Consultation note"
    note_resource = visit_composition.composition(
        note, visit, composition_id=composition_id, title=title, entries=entries)
    encounter = dict(record.encounter)
    if (encounter.get("class") or {}).get("code") == AMBULATORY_CODE and \
            encounter.get("status") in _OPEN:
        encounter = _finished(encounter, visit.when)
    if conditions:
        encounter["diagnosis"] = [
            {"condition": {"reference": f"Condition/{c['id']}"}, "rank": rank}
            for rank, c in enumerate(conditions, start=1)]
    written = [*observations, *conditions, *allergies, *issues, *requests,
               *([task] if task else []), *labs, *([home] if home else []), *referral,
               note_resource]
    signature = visit_composition.provenance(
        [*paths(written), f"Encounter/{visit.encounter_id}"], visit)
    writes = [(f"Encounter/{visit.encounter_id}", encounter),
              *((f"{r['resourceType']}/{r['id']}", r) for r in [*written, signature])]
    return writes, SignedVisit(visit.encounter_id, composition_id,
                               tuple(path for path, _ in writes),
                               task["id"] if task else None)


def _finished(encounter: dict[str, Any], at: str) -> dict[str, Any]:
    history = [*encounter.get("statusHistory", [])]
    if history:
        history[-1] = {**history[-1], "period": {**history[-1].get("period", {}), "end": at}}
    history.append({"status": "finished", "period": {"start": at}})
    return {**encounter, "status": "finished", "statusHistory": history,
            "period": {**encounter.get("period", {}), "end": at}}


def _warnings(note: VisitNote, record: _Record, formulary: Formulary) -> list[ItemWarnings]:
    new_allergies = visit_clinical.allergy_intolerances(
        note.allergies, Visit("", "", "", None, datetime.now(UTC)), formulary)
    entries = [formulary.get(item.medicine) for item in note.prescribed]
    found = []
    for index, entry in enumerate(entries):
        if entry is None:
            continue
        others = [e for i, e in enumerate(entries) if i != index and e is not None]
        warnings = check(entry, allergies=[*record.allergies, *new_allergies],
                         current=[*record.current, *others], formulary=formulary,
                         medications=record.medications)
        if warnings:
            found.append(ItemWarnings(index, tuple(warnings)))
    return found


async def _read_record(store: Store, caller: Principal, encounter_id: str,
                       note: VisitNote) -> _Record:
    access = Access("GET", f"Encounter/{encounter_id}/$sign-context", "")
    async with fhir_calls.reading(store, caller, access) as reads:
        try:
            encounter = await reads.read(f"Encounter/{encounter_id}")
        except NotFound:
            raise VisitRefused(N_("There is no such visit, or its patient's record is not "
                                  "shared with you")) from None
        patient = _reference_id(encounter.get("subject"))
        if patient is None:
            raise VisitRefused(N_("This visit names no patient"))
        allergies = (await reads.search("AllergyIntolerance", [
            ("patient", f"Patient/{patient}"), ("_count", "100")])).matches
        current = await reads.search("MedicationRequest", [
            ("patient", f"Patient/{patient}"), ("status", "active,on-hold"),
            ("_include", "MedicationRequest:medication"), ("_count", "100")])
        hospital = await _hospital(reads, note)
        appointment = await _appointment_at_centre(reads, encounter)
        notes = await reads.search("Composition", [
            ("encounter", f"Encounter/{encounter_id}"), ("status", "final"),
            ("type", f"{LOINC}|{visit_composition.CONSULT_NOTE[0]}"), ("_count", "1")])
    medications = {f"Medication/{m['id']}": m for m in current.included
                   if m.get("resourceType") == "Medication"}
    return _Record(encounter, str(encounter.get("meta", {}).get("versionId", "")),
                   allergies, current.matches, medications, hospital, bool(notes.matches),
                   appointment)


async def _appointment_at_centre(reads: Reads, encounter: Mapping[str, Any]
                                 ) -> dict[str, Any] | None:
    if (encounter.get("class") or {}).get("code") != AMBULATORY_CODE:
        return None
    for reference in encounter.get("appointment") or ():
        appointment_id = _reference_id(reference)
        if appointment_id:
            try:
                return await reads.read(f"Appointment/{appointment_id}")
            except NotFound:
                return None
    return None


async def _hospital(reads: Reads, note: VisitNote) -> dict[str, Any] | None:
    if note.referral is None:
        return None
    try:
        found = await reads.read(f"Organization/{note.referral.hospital}")
    except NotFound:
        found = None
    if found is None or found.get("resourceType") != "Organization":
        raise VisitRefused(N_("Choose the hospital to refer the patient to from the list"))
    return found


def _check_note(note: VisitNote, formulary: Formulary, caller: Principal) -> None:
    if _is_empty(note):
        raise VisitRefused(N_("Write something of the visit before signing it"))
    _check_vitals(note.vitals)
    for diagnosis in note.diagnoses:
        if icd10.lookup(diagnosis.code) is None:
            raise VisitRefused(N_("{code} is not an ICD-10 code that can be recorded; "
                                  "choose a diagnosis from the list"), code=diagnosis.code)
    if note.prescribed and (caller.account is None or caller.account.role is not Role.DOCTOR):
        raise VisitRefused(N_("Only a doctor can prescribe; ask the doctor to sign the "
                              "prescription"))
    for item in note.prescribed:
        _check_prescribed(item, formulary)
    for code in note.labs:
        if code not in BY_LOINC:
            raise VisitRefused(N_("{code} is not a lab test mor knows; choose one from the "
                                  "list"), code=code)
    _check_home_collection(note)
    if note.referral is not None and not note.referral.reason.strip():
        raise VisitRefused(N_("Say why the patient is referred"))


def _is_empty(note: VisitNote) -> bool:
    return not any((note.subjective.strip(), note.objective.strip(), note.assessment.strip(),
                    note.plan.strip(), note.advice.strip(), not note.vitals.empty,
                    note.diagnoses, note.allergies, note.prescribed, note.labs,
                    note.referral))


def _check_vitals(vitals: Vitals) -> None:
    for name, (low, high, unit) in VITAL_RANGES.items():
        value = getattr(vitals, name)
        if value is not None and not low <= value <= high:
            raise VisitRefused(N_("{what} of {value} {unit} cannot be right: it is between "
                                  "{low} and {high} {unit}"), what=VITAL_NAMES[name],
                               value=_number(value), unit=unit, low=_number(low),
                               high=_number(high))
    if (vitals.systolic is not None and vitals.diastolic is not None
            and vitals.diastolic >= vitals.systolic):
        raise VisitRefused(N_("The diastolic blood pressure must be lower than the "
                              "systolic"))


def _check_prescribed(item: Prescribed, formulary: Formulary) -> None:
    entry = formulary.get(item.medicine)
    if entry is None:
        raise VisitRefused(N_("{medicine} is not in the city formulary; choose a medicine "
                              "from the list"), medicine=item.medicine)
    if item.dose is None and entry.dose.amount is not None:
        raise VisitRefused(N_("Give the dose of {medicine}"), medicine=item.medicine)
    if item.dose is not None and item.dose <= 0:
        raise VisitRefused(N_("The dose of {medicine} must be more than zero"),
                           medicine=item.medicine)
    if not 1 <= item.per_day <= 24:
        raise VisitRefused(N_("{medicine}: give how many times a day, from 1 to 24"),
                           medicine=item.medicine)
    if item.days is not None and not 1 <= item.days <= _MOST_DAYS:
        raise VisitRefused(N_("{medicine}: give for how many days, from 1 to 365, or leave "
                              "it empty for a long-term medicine"), medicine=item.medicine)
    if item.quantity is not None and item.quantity <= 0:
        raise VisitRefused(N_("The quantity of {medicine} must be more than zero"),
                           medicine=item.medicine)
    if item.quantity_needed is None:
        raise VisitRefused(N_("Give the quantity of {medicine} to dispense"),
                           medicine=item.medicine)


def _check_home_collection(note: VisitNote) -> None:
    window = note.home_collection
    if window is None:
        return
    if not note.labs:
        raise VisitRefused(N_("Choose the lab tests to collect samples for at home"))
    if window.start.tzinfo is None or window.end.tzinfo is None:
        raise ValueError("home collection times must be aware")
    if window.end <= window.start:
        raise VisitRefused(N_("The home visit must end after it starts"))
    now = datetime.now(UTC)
    if window.end <= now or window.start > now + _HOME_WINDOW_AHEAD:
        raise VisitRefused(N_("Book the home visit within the next 60 days"))


def clinician_of(caller: Principal) -> str:
    account = caller.account
    if account is None or account.role not in CONSULTING_ROLES or not account.fhir_user_id:
        raise VisitRefused(N_("Only the doctors and nurses of a health centre sign visit "
                              "notes"))
    return account.fhir_user_id


def took_part(encounter: Mapping[str, Any], practitioner_id: str) -> bool:
    wanted = f"Practitioner/{practitioner_id}"
    return any((entry.get("individual") or {}).get("reference") == wanted
               for entry in encounter.get("participant") or ())


def _reference_id(reference: Any) -> str | None:
    if not isinstance(reference, dict):
        return None
    text = reference.get("reference")
    return text.rpartition("/")[2] if isinstance(text, str) and "/" in text else None


def _english(warning: PrescribingWarning) -> str:
    return warning.message.format(**warning.parameters("en"))


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
