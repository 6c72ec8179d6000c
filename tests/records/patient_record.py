"""A patient's record as a health centre keeps it after some years of visits: problems
(one resolved), medicines (one stopped), allergies, vital signs measured several times,
and past visits, with a few entries in error that no summary may show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING

LOINC = "http://loinc.org"
ICD_10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VITAL_SIGNS = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                     "observation-category", "code": "vital-signs"}]}


@dataclass(frozen=True, slots=True)
class Record:
    patient_id: str
    # Ids of what a summary must show, and of what it must not.
    shown: frozenset[str]
    hidden: frozenset[str]


def _status(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def condition(patient: str, code: str, display: str, status: str, **more: Any
              ) -> dict[str, Any]:
    return {"resourceType": "Condition", "subject": {"reference": f"Patient/{patient}"},
            "clinicalStatus": _status(CLINICAL, status),
            "code": {"coding": [{"system": ICD_10, "code": code, "display": display}]},
            **more}


def vital(patient: str, code: str, when: str, value: float | None = None, unit: str = "",
          *, components: dict[str, float] | None = None, status: str = "final"
          ) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation", "status": status, "category": [VITAL_SIGNS],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": when}
    if value is not None:
        observation["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM,
                                        "code": unit}
    if components:
        observation["component"] = [
            {"code": {"coding": [{"system": LOINC, "code": c}]},
             "valueQuantity": {"value": v, "unit": "mm[Hg]", "system": UCUM,
                               "code": "mm[Hg]"}} for c, v in components.items()]
    return observation


def encounter(patient: str, centre_id: str, start: str, status: str = "finished",
              reason: str | None = None) -> dict[str, Any]:
    made: dict[str, Any] = {
        "resourceType": "Encounter", "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                  "code": "AMB"},
        "subject": {"reference": f"Patient/{patient}"},
        "serviceProvider": {"reference": f"Organization/{centre_id}"},
        "period": {"start": start, "end": start}}
    if reason:
        made["reasonCode"] = [{"text": reason}]
    return made


async def make_record(store: Store, centre_id: str | None, *,
                      patient_id: str | None = None) -> Record:
    """The record of a new patient of the centre (None: of no centre), or added to
    ``patient_id``'s."""
    shown: set[str] = set()
    hidden: set[str] = set()
    async with store.writing(EVERYTHING) as tx:
        if patient_id is None:
            patient: dict[str, Any] = {
                "resourceType": "Patient", "gender": "female", "birthDate": "1961-03-15",
                "name": [{"given": ["Somsri"], "family": "Jaidee"}]}
            if centre_id is not None:
                patient["managingOrganization"] = {"reference": f"Organization/{centre_id}"}
            patient_id = (await tx.create(patient)).id
        p = patient_id
        other = (await tx.create({"resourceType": "Patient"})).id

        async def add(resource: dict[str, Any], show: bool) -> str:
            made = (await tx.create(resource)).id
            (shown if show else hidden).add(made)
            return made

        await add(condition(p, "I10", "Essential (primary) hypertension", "active",
                            onsetDateTime="2015"), True)
        await add(condition(p, "E11.9", "Type 2 diabetes mellitus without complications",
                            "active", onsetDateTime="2019-06-02"), True)
        await add(condition(p, "J06.9", "Acute upper respiratory infection, unspecified",
                            "resolved"), False)
        await add(condition(p, "K29.7", "Gastritis, unspecified", "active",
                            verificationStatus=_status(
                                "http://terminology.hl7.org/CodeSystem/"
                                "condition-ver-status", "entered-in-error")), False)
        await add(condition(other, "I10", "Someone else's", "active"), False)

        metformin = (await tx.create({
            "resourceType": "Medication", "code": {"coding": [{
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "861007",
                "display": "metformin hydrochloride 500 MG Oral Tablet"}]}})).id
        await add({"resourceType": "MedicationRequest", "status": "active",
                   "intent": "order", "subject": {"reference": f"Patient/{p}"},
                   "authoredOn": "2025-01-10",
                   "medicationCodeableConcept": {"text": "Amlodipine 5 mg tablet"},
                   "dosageInstruction": [{"text": "1 tablet once a day"}]}, True)
        await add({"resourceType": "MedicationRequest", "status": "active",
                   "intent": "order", "subject": {"reference": f"Patient/{p}"},
                   "medicationReference": {"reference": f"Medication/{metformin}"},
                   "dosageInstruction": [{"text": "1 tablet twice a day after meals"}]},
                  True)
        await add({"resourceType": "MedicationRequest", "status": "stopped",
                   "intent": "order", "subject": {"reference": f"Patient/{p}"},
                   "medicationCodeableConcept": {"text": "Enalapril 5 mg tablet"}}, False)
        await add({"resourceType": "MedicationStatement", "status": "active",
                   "subject": {"reference": f"Patient/{p}"},
                   "effectiveDateTime": "2025-02-01",
                   "medicationCodeableConcept": {"text": "Paracetamol 500 mg"},
                   "dosage": [{"text": "when in pain"}]}, True)

        await add({"resourceType": "AllergyIntolerance", "patient": {"reference":
                                                                     f"Patient/{p}"},
                   "clinicalStatus": _status(ALLERGY_CLINICAL, "active"),
                   "criticality": "high",
                   "code": {"coding": [{"system": SNOMED, "code": "764146007",
                                        "display": "Penicillin"}]},
                   "reaction": [{"manifestation": [{"coding": [{
                       "system": SNOMED, "code": "247472004", "display": "Hives"}]}]}]},
                  True)
        await add({"resourceType": "AllergyIntolerance", "patient": {"reference":
                                                                     f"Patient/{p}"},
                   "clinicalStatus": _status(ALLERGY_CLINICAL, "resolved"),
                   "code": {"text": "Egg"}}, False)

        bp = "85354-9"
        await add(vital(p, bp, "2024-11-02T09:10:00+07:00",
                        components={"8480-6": 150, "8462-4": 95}), False)
        await add(vital(p, bp, "2025-03-01T09:12:00+07:00",
                        components={"8480-6": 132, "8462-4": 84}), True)
        await add(vital(p, "8867-4", "2024-11-02T09:10:00+07:00", 90, "/min"), False)
        await add(vital(p, "8867-4", "2025-03-01T09:12:00+07:00", 72, "/min"), True)
        await add(vital(p, "8310-5", "2025-03-01T09:12:00+07:00", 36.6, "Cel"), True)
        await add(vital(p, "8310-5", "2025-03-02T09:12:00+07:00", 39.9, "Cel",
                        status="entered-in-error"), False)
        await add(vital(p, "29463-7", "2025-03-01T09:12:00+07:00", 61.5, "kg"), True)
        await add(vital(p, "59408-5", "2025-03-01T09:12:00+07:00", 97, "%"), True)
        await add(vital(other, "8867-4", "2025-04-01T09:00:00+07:00", 120, "/min"), False)

        if centre_id is not None:
            await add(encounter(p, centre_id, "2024-11-02T09:00:00+07:00",
                                reason="Blood pressure follow-up"), True)
            await add(encounter(p, centre_id, "2025-03-01T09:00:00+07:00",
                                reason="Fever and cough"), True)
            await add(encounter(p, centre_id, "2025-03-05T09:00:00+07:00",
                                status="cancelled"), False)
    return Record(patient_id, frozenset(shown), frozenset(hidden))
