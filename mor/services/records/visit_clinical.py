"""A visit's findings as R4 resources: vital signs (``Observation``, the R4 vital signs
profiles, LOINC codes and UCUM units), diagnoses (``Condition``, ICD-10) and allergies
(``AllergyIntolerance``). Pure functions: the signing service gives them the ids and the
visit they belong to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from mor.services.prescribing.formulary import Formulary
from mor.services.prescribing.model import ATC_SYSTEM
from mor.services.records.visit_note import AllergyFound, Diagnosis, Vitals
from mor.services.records.vital_signs import LOINC
from mor.services.terminology import icd10

UCUM: Final = "http://unitsofmeasure.org"
ICD10: Final = "http://hl7.org/fhir/sid/icd-10"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION: Final = (
    "http://terminology.hl7.org/CodeSystem/condition-ver-status")
ALLERGY_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION: Final = (
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification")


@dataclass(frozen=True, slots=True)
class Visit:
    """What every resource of a visit refers to."""

    encounter_id: str
    patient_id: str
    practitioner_id: str
    organization_id: str | None  # the health centre's
    signed_at: datetime  # aware

    @property
    def when(self) -> str:
        return self.signed_at.isoformat(timespec="seconds")

    def references(self) -> dict[str, Any]:
        return {"subject": {"reference": f"Patient/{self.patient_id}"},
                "encounter": {"reference": f"Encounter/{self.encounter_id}"}}


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class _Measure:
    field: str
    loinc: str
    display: str
    unit: str  # UCUM code, also shown


# Single-value vital signs, each as its R4 profile codes it.
_SINGLE: Final = (
    _Measure("heart_rate", "8867-4", "Heart rate", "/min"),
    _Measure("respiratory_rate", "9279-1", "Respiratory rate", "/min"),
    _Measure("temperature", "8310-5", "Body temperature", "Cel"),
    _Measure("spo2", "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%"),
    _Measure("weight", "29463-7", "Body weight", "kg"),
    _Measure("height", "8302-2", "Body height", "cm"),
)
_BMI: Final = _Measure("bmi", "39156-5", "Body mass index (BMI) [Ratio]", "kg/m2")
_VITAL_SIGNS_CATEGORY: Final = {"coding": [{"system": OBSERVATION_CATEGORY,
                                            "code": "vital-signs", "display": "Vital Signs"}]}


def vital_observations(vitals: Vitals, visit: Visit) -> list[dict[str, Any]]:
    """One Observation per vital sign taken; blood pressure as one panel, and BMI when
    weight and height were both taken."""
    found: list[dict[str, Any]] = []
    if vitals.systolic is not None or vitals.diastolic is not None:
        components = [
            {"code": _code(loinc, display), "valueQuantity": _quantity(value, "mm[Hg]")}
            for loinc, display, value in (
                ("8480-6", "Systolic blood pressure", vitals.systolic),
                ("8462-4", "Diastolic blood pressure", vitals.diastolic))
            if value is not None]
        found.append(_observation(visit, "85354-9", "Blood pressure panel with all children "
                                  "optional", component=components))
    for measure in (*_SINGLE, _BMI):
        value = getattr(vitals, measure.field)
        if value is not None:
            found.append(_observation(visit, measure.loinc, measure.display,
                                      valueQuantity=_quantity(value, measure.unit)))
    return found


def _observation(visit: Visit, loinc: str, display: str, **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": new_id(), "status": "final",
            "category": [_VITAL_SIGNS_CATEGORY], "code": _code(loinc, display),
            **visit.references(), "effectiveDateTime": visit.when, "issued": visit.when,
            "performer": [{"reference": f"Practitioner/{visit.practitioner_id}"}], **value}


def _code(loinc: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": loinc, "display": display}],
            "text": display}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def conditions(diagnoses: tuple[Diagnosis, ...], visit: Visit) -> list[dict[str, Any]]:
    """One encounter diagnosis per ICD-10 code (unknown codes are refused before this)."""
    found = []
    for diagnosis in diagnoses:
        known = icd10.lookup(diagnosis.code)
        if known is None:
            raise ValueError(f"{diagnosis.code} is not an ICD-10 code")
        coding: dict[str, Any] = {"system": ICD10, "code": known.code,
                                  "display": known.english}
        verification = "provisional" if diagnosis.provisional else "confirmed"
        found.append({
            "resourceType": "Condition", "id": new_id(),
            "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
            "verificationStatus": {"coding": [{"system": CONDITION_VERIFICATION,
                                               "code": verification}]},
            "category": [{"coding": [{"system": CONDITION_CATEGORY,
                                      "code": "encounter-diagnosis",
                                      "display": "Encounter Diagnosis"}]}],
            "code": {"coding": [coding], "text": known.english},
            **visit.references(), "recordedDate": visit.when,
            "recorder": {"reference": f"Practitioner/{visit.practitioner_id}"},
        })
    return found


def allergy_intolerances(allergies: tuple[AllergyFound, ...], visit: Visit,
                         formulary: Formulary) -> list[dict[str, Any]]:
    """The allergies told of at the visit: to a formulary medicine by its ATC codes (so
    the prescribing warnings find it), or in words."""
    found = []
    for allergy in allergies:
        code: dict[str, Any]
        entry = formulary.get(allergy.medicine) if allergy.medicine else None
        if entry is not None:
            code = {"coding": [{"system": ATC_SYSTEM, "code": atc,
                                "display": entry.names.en}
                               for atc in sorted(entry.ingredient_codes)],
                    "text": allergy.text.strip() or entry.names.en}
        elif allergy.text.strip():
            code = {"text": allergy.text.strip()}
        else:
            continue
        resource: dict[str, Any] = {
            "resourceType": "AllergyIntolerance", "id": new_id(),
            "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": "active"}]},
            "verificationStatus": {"coding": [{"system": ALLERGY_VERIFICATION,
                                               "code": "unconfirmed"}]},
            "type": "allergy",
            "category": ["medication" if entry is not None else allergy.category],
            "criticality": "high" if allergy.high_risk else "low",
            "code": code, "patient": {"reference": f"Patient/{visit.patient_id}"},
            "encounter": {"reference": f"Encounter/{visit.encounter_id}"},
            "recordedDate": visit.when,
            "recorder": {"reference": f"Practitioner/{visit.practitioner_id}"},
        }
        if allergy.reaction.strip():
            resource["reaction"] = [{"manifestation": [{"text": allergy.reaction.strip()}]}]
        found.append(resource)
    return found
