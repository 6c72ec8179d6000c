"""From a signed visit's FHIR resources to what its documents print, in the document's
language: medicine names from the formulary, dose instructions said again in that
language, the centre's and the hospital's names as they are translated in the
directory, dates in the city's time zone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from html import unescape
from typing import Any, Final
from zoneinfo import ZoneInfo

from mor.services.documents.model import (
    Centre,
    Clinician,
    Medicine,
    PatientDetails,
    Prescription,
    ReferralLetter,
    VitalSign,
)
from mor.services.documents.texts import label as say
from mor.services.documents.visit_record import VisitRecord
from mor.services.person_names import display_name
from mor.services.prescribing.dosage import dosage_text
from mor.services.prescribing.formulary import Formulary, label
from mor.services.prescribing.model import DOSE_UNITS, Entry, UsualDose
from mor.services.records.elements import concept_of, partial_date_of, quantity_of
from mor.services.records.visit_composition import ASSESSMENT, PLAN
from mor.services.records.vital_signs import VITAL_KINDS, vital_sign_of
from mor.services.scheduling.lookup import reference_id
from mor.services.scheduling.texts import in_language, texts_of
from mor.services.terminology import icd10

# UCUM codes as a paper writes them.
_UNIT_SHOWN: Final = {"Cel": "°C", "mm[Hg]": "mmHg", "/min": "/min", "kg/m2": "kg/m²"}
_TAG: Final = re.compile(r"<[^>]+>")


def prescription_of(record: VisitRecord, language: str, formulary: Formulary,
                    zone: ZoneInfo) -> Prescription | None:
    """The visit's prescription, or None when it prescribed nothing."""
    if not record.prescription:
        return None
    return Prescription(
        language=language, centre=_centre(record, language),
        patient=patient_of(record), prescriber=clinician_of(record.practitioner),
        signed=signed_day(record, zone),
        medicines=tuple(medicine_of(r, language, formulary, record.medications)
                        for r in record.prescription))


def referral_of(record: VisitRecord, language: str, formulary: Formulary,
                zone: ZoneInfo) -> ReferralLetter | None:
    """The visit's referral letter, or None when it referred no one."""
    referral = record.referral
    if referral is None:
        return None
    performer = (referral.get("performer") or [{}])[0]
    hospital = (_name_in(record.hospital, language) if record.hospital else "") or str(
        performer.get("display") or "")
    reasons = [c.text for c in map(concept_of, referral.get("reasonCode") or ()) if c]
    return ReferralLetter(
        language=language, centre=_centre(record, language), patient=patient_of(record),
        clinician=clinician_of(record.practitioner), signed=signed_day(record, zone),
        hospital=hospital, reason="; ".join(reasons),
        urgent=referral.get("priority") in ("urgent", "asap", "stat"),
        diagnoses=tuple(d for c in record.conditions if (d := _diagnosis(c, language))),
        vitals=_vitals(record.vitals),
        current_medicines=tuple(_current(r, language, formulary, record.medications)
                                for r in record.current),
        assessment=section_text(record.note, ASSESSMENT[0]),
        plan=section_text(record.note, PLAN[0]))


def medicine_of(request: Mapping[str, Any], language: str, formulary: Formulary,
                medications: Mapping[str, dict[str, Any]]) -> Medicine:
    """One MedicationRequest as a prescription line. A formulary medicine is named and
    its dose said in ``language``; any other as the record has it."""
    reference = request.get("medicationReference") or {}
    entry = formulary.get(reference_id(reference, "Medication") or "")
    dosage = (request.get("dosageInstruction") or [{}])[0]
    amount = quantity_of((request.get("dispenseRequest") or {}).get("quantity"))
    if entry is None:
        name = _medication_name(request, medications)
        quantity = f"{_number(amount.value)} {amount.unit}".strip() if amount else ""
        return Medicine(name, name, "", str(dosage.get("text") or ""), quantity)
    name = entry.names.in_language(language)
    unit = DOSE_UNITS[entry.dose.unit][1].in_language(language)
    return Medicine(name=name, generic=entry.names.en,
                    strength=label(entry, language).removeprefix(name).strip(),
                    dose=_dose_text(dosage, entry, language),
                    quantity=f"{_number(amount.value)} {unit}" if amount else "")


def centre_of(organization: Mapping[str, Any] | None, location: Mapping[str, Any] | None,
              language: str) -> Centre:
    """The letterhead: the centre's name in ``language``, its address (kept on its
    Location by the centre pages) and phone."""
    organization = organization or {}
    location = location or {}
    phones = [t.get("value") for t in (*(organization.get("telecom") or ()),
                                       *(location.get("telecom") or ()))
              if isinstance(t, dict) and t.get("system") == "phone" and t.get("value")]
    address = (organization.get("address") or [None])[0] or location.get("address")
    return Centre(_name_in(organization, language) or _name_in(location, language),
                  _address_text(address, language, location or organization),
                  str(phones[0]) if phones else "")


def _centre(record: VisitRecord, language: str) -> Centre:
    return centre_of(record.centre, record.centre_location, language)


def patient_of(record: VisitRecord) -> PatientDetails:
    patient = record.patient
    identifiers = [i.get("value") for i in patient.get("identifier") or ()
                   if isinstance(i, dict) and i.get("value")]
    born = partial_date_of(patient.get("birthDate"))
    allergies = [c.text for c in (concept_of(a.get("code")) for a in record.allergies) if c]
    return PatientDetails(display_name(patient),
                          str(identifiers[0]) if identifiers else "",
                          born.as_date() if born else None,
                          tuple(dict.fromkeys(allergies)))


def clinician_of(practitioner: Mapping[str, Any] | None) -> Clinician:
    if practitioner is None:
        return Clinician("")
    licences = [i.get("value") for q in practitioner.get("qualification") or ()
                if isinstance(q, dict)
                for i in q.get("identifier") or () if isinstance(i, dict) and i.get("value")]
    return Clinician(display_name(dict(practitioner), with_prefix=True),
                     str(licences[0]) if licences else None)


def signed_day(record: VisitRecord, zone: ZoneInfo) -> date:
    # The day in the city, not in UTC: a visit signed at 06:00 in Bangkok is that day's.
    return record.signed_at.astimezone(zone).date()


def section_text(composition: Mapping[str, Any], loinc: str) -> str:
    """A Composition section's narrative as plain text, its lines kept."""
    for section in composition.get("section") or ():
        codes = {c.get("code") for c in (section.get("code") or {}).get("coding") or ()}
        if loinc in codes:
            div = str((section.get("text") or {}).get("div") or "")
            return unescape(_TAG.sub("", div.replace("<br/>", "\n"))).strip()
    return ""


def _dose_text(dosage: Mapping[str, Any], entry: Entry, language: str) -> str:
    # Said again from the structured dose: the record's text is in the language of
    # the signing, and this document may be in another.
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    dose = quantity_of(((dosage.get("doseAndRate") or [{}])[0]).get("doseQuantity"))
    bounds = quantity_of(repeat.get("boundsDuration"))
    if not isinstance(repeat.get("frequency"), int):
        return str(dosage.get("text") or "")
    return dosage_text(UsualDose(dose.value if dose else None, entry.dose.unit,
                                 repeat["frequency"], int(bounds.value) if bounds else None,
                                 bool(dosage.get("asNeededBoolean"))), language)


def _current(request: Mapping[str, Any], language: str, formulary: Formulary,
             medications: Mapping[str, dict[str, Any]]) -> str:
    medicine = medicine_of(request, language, formulary, medications)
    named = " ".join(p for p in (medicine.name, medicine.strength) if p)
    return f"{named}: {medicine.dose}" if medicine.dose else named


def _medication_name(request: Mapping[str, Any], medications: Mapping[str, dict[str, Any]]
                     ) -> str:
    if "medicationCodeableConcept" in request:
        found = concept_of(request["medicationCodeableConcept"])
        return found.text if found else ""
    reference = request.get("medicationReference") or {}
    medication = medications.get(str(reference.get("reference", "")))
    found = concept_of((medication or {}).get("code"))
    return found.text if found else str(reference.get("display") or "")


def _diagnosis(condition: Mapping[str, Any], language: str) -> str:
    concept = concept_of(condition.get("code"))
    if concept is None:
        return ""
    known = icd10.lookup(concept.icd_10) if concept.icd_10 else None
    text = f"{known.code} {known.name(language)}" if known else concept.text
    codes = {c.get("code") for c in (condition.get("verificationStatus") or {})
             .get("coding") or ()}
    return f"{text} ({say('provisional', language)})" if "provisional" in codes else text


def _vitals(observations: list[dict[str, Any]]) -> tuple[VitalSign, ...]:
    by_code = {c.get("code"): o for o in observations
               for c in (o.get("code") or {}).get("coding") or ()}
    shown = []
    for kind in VITAL_KINDS:
        observation = next((by_code[c] for c in kind.codes if c in by_code), None)
        found = vital_sign_of(kind, observation) if observation else None
        if found is None or observation is None:
            continue
        values = [v for v in found.values if v is not None]
        unit = _UNIT_SHOWN.get(values[0].unit, values[0].unit)
        concept = concept_of(observation.get("code"))
        shown.append(VitalSign(kind.key, concept.text if concept else kind.key,
                               f"{'/'.join(_number(v.value) for v in values)} {unit}"))
    return tuple(shown)


def _name_in(resource: Mapping[str, Any], language: str) -> str:
    own = str(resource.get("language") or "en")
    return in_language(texts_of(resource, "name", own), language, own)


def _address_text(address: Any, language: str, owner: Mapping[str, Any]) -> str:
    if not isinstance(address, dict):
        return ""
    if address.get("text"):
        return str(address["text"])
    own = str(owner.get("language") or "en")
    district = in_language(texts_of(address, "district", own), language, own)
    parts = [*(address.get("line") or ()), district, address.get("city")]
    return ", ".join(str(p) for p in parts if p)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
