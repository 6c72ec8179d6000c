"""A patient's record at a glance, for the clinician seeing them: who they are, their
active problems, current medicines, allergies, latest vital signs and last visits.

Read as the clinician (their :class:`~mor.auth.policy.Principal`), through the FHIR
interactions in one transaction (:func:`mor.services.fhir_calls.reading`): the store
shows only what the clinician may see (their centres' patients, those who consented to
share with them or their centre, and those they broke the glass for), and the reading
is one AuditEvent naming the patient and every resource shown (subtype ``operation``,
query ``Patient/[id]/$summary``, the International Patient Summary's name for it).

A handful of indexed searches, each by the patient and limited; the latest vital sign
of each kind is a search of its own (``_sort=-date``, the first match), all run as one
query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from mor.fhir.errors import Forbidden, Gone, NotFound
from mor.fhir.permissions import Access, Caller
from mor.fhir.store import Store
from mor.messages import N_
from mor.services.fhir_calls import Found, Reads, reading
from mor.services.person_names import display_name
from mor.services.records.elements import (
    Concept,
    PartialDate,
    codes_of,
    concept_of,
    first_moment,
    partial_date_of,
)
from mor.services.records.vital_signs import VITAL_KINDS, VitalSign, search_of, vital_sign_of
from mor.services.scheduling.lookup import reference_id
from mor.services.scheduling.texts import in_language, texts_of

SNOMED: Final = "http://snomed.info/sct"
# Statements that nothing is known, recorded as AllergyIntolerance codes: "no known
# allergy" is an answer the patient gave, unlike an empty list, which is no answer.
NO_KNOWN_ALLERGY_CODES: Final = frozenset({
    "716186003",  # no known allergy
    "409137002",  # no known drug allergy
    "429625007",  # no known food allergy
    "428607008",  # no known environmental allergy
})
LAST_VISITS: Final = 5
# More than a record summary shows of a kind; the rest are in the full record.
_MOST: Final = 50
_VERIFIED: Final = ("verification-status:not", "entered-in-error,refuted")


@dataclass(frozen=True, slots=True)
class Person:
    patient_id: str
    name: str
    gender: str | None  # FHIR administrative-gender: male, female, other, unknown
    birth_date: PartialDate | None
    # Whole years on the day asked; from a birth year or month alone, as if born on
    # its first day.
    age: int | None

    @property
    def age_is_approximate(self) -> bool:
        return self.birth_date is not None and self.birth_date.day is None


@dataclass(frozen=True, slots=True)
class Problem:
    condition_id: str
    name: Concept
    onset: PartialDate | None


@dataclass(frozen=True, slots=True)
class Medicine:
    reference: str  # MedicationRequest/id or MedicationStatement/id
    name: Concept
    dosage: str | None  # the dosage instructions as written
    # A prescription (MedicationRequest); else a MedicationStatement: what the patient
    # says they take, or what another service recorded.
    prescribed: bool
    since: datetime | date | None


@dataclass(frozen=True, slots=True)
class Allergy:
    allergy_id: str
    substance: Concept
    reactions: tuple[Concept, ...]
    high_risk: bool  # criticality high: a reaction may be life-threatening


@dataclass(frozen=True, slots=True)
class Visit:
    encounter_id: str
    start: datetime | date | None
    status: str
    class_code: str | None  # v3 ActCode: AMB, VR (video), HH (home), IMP, EMER ...
    kind: Concept | None  # the service, else the encounter's type
    reasons: tuple[Concept, ...]
    centre_names: Mapping[str, str]  # by language; none when not known
    centre_language: str  # the centre's own, of its main name

    def centre(self, language: str) -> str:
        return in_language(self.centre_names, language, self.centre_language)


@dataclass(frozen=True, slots=True)
class RecordSummary:
    patient: Person
    problems: tuple[Problem, ...]  # active, newest first
    medicines: tuple[Medicine, ...]  # active: prescriptions, then statements
    allergies: tuple[Allergy, ...]
    # SNOMED codes of standing "no known allergy" statements; empty whenever an
    # allergy is recorded, which such a statement no longer describes.
    no_known_allergies: tuple[str, ...]
    vital_signs: tuple[VitalSign, ...]  # the latest of each kind, in VITAL_KINDS' order
    visits: tuple[Visit, ...]  # newest first


class RecordNotShared(LookupError):
    """The reader may not see this patient's record (or there is none); ``reason``
    (translatable) says so."""

    def __init__(self) -> None:
        self.reason = N_("This patient's record is not shared with you")
        super().__init__(self.reason)


async def record_summary(store: Store, reader: Caller, patient_id: str, *, today: date,
                         current_encounter: str | None = None) -> RecordSummary:
    """The summary of the patient's record as ``reader`` may see it; ``current_encounter``
    (the visit under way) is left out of the last visits. Raises RecordNotShared."""
    access = Access("GET", f"Patient/{patient_id}/$summary", "")
    try:
        async with reading(store, reader, access) as reads:
            patient = await reads.read(f"Patient/{patient_id}")
            return await _summary(reads, patient, today, current_encounter)
    except (NotFound, Gone, Forbidden):
        raise RecordNotShared() from None


async def _summary(reads: Reads, patient: dict[str, Any], today: date,
                   current_encounter: str | None) -> RecordSummary:
    subject = ("patient", f"Patient/{patient['id']}")
    conditions = await reads.search("Condition", [
        subject, ("clinical-status", "active,recurrence,relapse"), _VERIFIED,
        ("_sort", "-onset-date,-recorded-date"), ("_count", str(_MOST))])
    requests = await reads.search("MedicationRequest", [
        subject, ("status", "active"), ("_include", "MedicationRequest:medication"),
        ("_sort", "-authoredon"), ("_count", str(_MOST))])
    statements = await reads.search("MedicationStatement", [
        subject, ("status", "active"), ("_include", "MedicationStatement:medication"),
        ("_sort", "-effective"), ("_count", str(_MOST))])
    allergies = await reads.search("AllergyIntolerance", [
        subject, ("clinical-status:not", "inactive,resolved"), _VERIFIED,
        ("_sort", "-date"), ("_count", str(_MOST))])
    latest = await reads.firsts("Observation", [
        [*search_of(kind, patient["id"]), ("_sort", "-date")] for kind in VITAL_KINDS])
    visits = await reads.search("Encounter", [
        subject, ("status:not", "planned,cancelled,entered-in-error"),
        *([("_id:not", current_encounter)] if current_encounter else []),
        ("_include", "Encounter:service-provider"), ("_sort", "-date"),
        ("_count", str(LAST_VISITS))])
    known = [a for a in allergies.matches if not _is_no_known_allergy(a)]
    return RecordSummary(
        patient=_person(patient, today),
        problems=tuple(p for c in conditions.matches if (p := _problem(c)) is not None),
        medicines=(*_medicines(requests, prescribed=True),
                   *_medicines(statements, prescribed=False)),
        allergies=tuple(a for r in known if (a := _allergy(r)) is not None),
        no_known_allergies=() if known else tuple(sorted(
            {code for a in allergies.matches for system, code in codes_of(a.get("code"))
             if system == SNOMED and code in NO_KNOWN_ALLERGY_CODES})),
        vital_signs=tuple(v for kind, o in zip(VITAL_KINDS, latest, strict=True)
                          if o is not None and (v := vital_sign_of(kind, o)) is not None),
        visits=_visits(visits),
    )


def _person(patient: dict[str, Any], today: date) -> Person:
    born = partial_date_of(patient.get("birthDate"))
    return Person(patient["id"], display_name(patient), patient.get("gender"), born,
                  _age(born, today) if born else None)


def _age(born: PartialDate, today: date) -> int | None:
    birthday = (born.month or 1, born.day or 1)
    years = today.year - born.year - ((today.month, today.day) < birthday)
    return years if years >= 0 else None


def _problem(condition: dict[str, Any]) -> Problem | None:
    name = concept_of(condition.get("code"))
    if name is None:
        return None
    return Problem(condition["id"], name, partial_date_of(condition.get("onsetDateTime")))


def _medicines(found: Found, *, prescribed: bool) -> tuple[Medicine, ...]:
    medications = {f"Medication/{m['id']}": m for m in found.included
                   if m.get("resourceType") == "Medication"}
    shown = []
    for resource in found.matches:
        name = _medication_name(resource, medications)
        if name is None:
            continue
        dosages = resource.get("dosageInstruction" if prescribed else "dosage") or ()
        texts = [d["text"] for d in dosages if isinstance(d, dict) and d.get("text")]
        period = resource.get("effectivePeriod") or {}
        since = first_moment(resource.get("authoredOn")) if prescribed else first_moment(
            resource.get("effectiveDateTime"), period.get("start"),
            resource.get("dateAsserted"))
        shown.append(Medicine(f"{resource['resourceType']}/{resource['id']}", name,
                              "; ".join(texts) or None, prescribed, since))
    return tuple(shown)


def _medication_name(resource: dict[str, Any], medications: Mapping[str, dict[str, Any]]
                     ) -> Concept | None:
    if "medicationCodeableConcept" in resource:
        return concept_of(resource["medicationCodeableConcept"])
    reference = resource.get("medicationReference") or {}
    target = reference.get("reference", "")
    if target.startswith("#"):
        medication = next((c for c in resource.get("contained") or ()
                           if c.get("id") == target[1:]), None)
    else:
        medication = medications.get(target)
    name = concept_of((medication or {}).get("code"))
    if name is None and reference.get("display"):
        return Concept(str(reference["display"]))
    return name


def _is_no_known_allergy(allergy: dict[str, Any]) -> bool:
    return any(system == SNOMED and code in NO_KNOWN_ALLERGY_CODES
               for system, code in codes_of(allergy.get("code")))


def _allergy(allergy: dict[str, Any]) -> Allergy | None:
    substance = concept_of(allergy.get("code"))
    if substance is None:
        return None
    reactions = tuple(dict.fromkeys(
        m for reaction in allergy.get("reaction") or () if isinstance(reaction, dict)
        for m in map(concept_of, reaction.get("manifestation") or ()) if m is not None))
    return Allergy(allergy["id"], substance, reactions, allergy.get("criticality") == "high")


def _visits(found: Found) -> tuple[Visit, ...]:
    centres = {o["id"]: o for o in found.included if o.get("resourceType") == "Organization"}
    visits = []
    for encounter in found.matches:
        kinds = [encounter.get("serviceType"), *(encounter.get("type") or ())]
        centre = centres.get(reference_id(encounter.get("serviceProvider"),
                                          "Organization") or "")
        language = (centre or {}).get("language") or "en"
        names = texts_of(centre, "name", language) if centre else {}
        display = (encounter.get("serviceProvider") or {}).get("display")
        if not names and display:
            names = {language: str(display)}
        visits.append(Visit(
            encounter_id=encounter["id"],
            start=first_moment((encounter.get("period") or {}).get("start")),
            status=encounter.get("status", ""),
            class_code=(encounter.get("class") or {}).get("code"),
            kind=next((k for k in map(concept_of, kinds) if k is not None), None),
            reasons=tuple(r for r in map(concept_of, encounter.get("reasonCode") or ())
                          if r is not None),
            centre_names=names, centre_language=language))
    return tuple(visits)
