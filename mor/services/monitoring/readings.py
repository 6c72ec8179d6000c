"""Home readings as FHIR ``Observation``s, and back.

Blood pressure is the LOINC 85354-9 panel with its 8480-6 (systolic) and 8462-4
(diastolic) components, and the pulse as an 8867-4 component, in mm[Hg] and /min; blood
sugar is 2339-0 in mg/dL, with its meal context as a component (HL7 v2 table 0916's
fasting / not fasting, and mor's finer code); weight is 29463-7 in kg. Each reading is
``basedOn`` the plan it answers and carries the identifier its sender gave it (a phone's
``urn:uuid:``, a meter export's line, a gateway's own), by which a reading sent twice is
stored once: the write is a conditional create on that identifier.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from mor.auth.policy import Principal
from mor.fhir.errors import FhirError
from mor.fhir.interactions import dispatch
from mor.fhir.requests import FhirRequest
from mor.fhir.store import Store
from mor.messages import N_
from mor.services.monitoring.codes import (
    BLOOD_PRESSURE,
    DIASTOLIC,
    FASTING_SYSTEM,
    GLUCOSE,
    HEART_RATE,
    KG,
    KIND_BY_LOINC,
    LOINC,
    MEAL_CONTEXT,
    MEAL_CONTEXTS,
    MG_DL,
    MM_HG,
    MONITORING,
    OBSERVATION_CATEGORY,
    PER_MINUTE,
    READING_ID_SYSTEM,
    READING_KINDS,
    SYSTOLIC,
    WEIGHT,
    coding,
    quantity,
)
from mor.services.records.elements import moment_of

# What a person can plausibly read off a home device; beyond it is a typing slip.
LIMITS: Final = {"systolic": (50, 300), "diastolic": (30, 200), "pulse": (20, 250),
                 "glucose": (10, 800), "weight": (2, 400)}
_FIELDS: Final = {"bp": ("systolic", "diastolic"), "glucose": ("glucose",),
                  "weight": ("weight",)}
UNIT_TEXT: Final = {"bp": "mmHg", "glucose": "mg/dL", "weight": "kg"}


class BadReading(ValueError):
    """A reading that cannot be stored as it is; ``message`` is a msgid whose fields are
    ``params``."""

    def __init__(self, message: str, **params: str) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


@dataclass(frozen=True, slots=True)
class Reading:
    kind: str  # bp, glucose, weight
    taken: datetime  # aware
    values: Mapping[str, float]  # bp: systolic, diastolic (pulse); glucose; weight
    context: str | None = None  # blood sugar: fasting, after-meal, random
    key: str = field(default_factory=lambda: f"urn:uuid:{uuid.uuid4()}")
    id: str | None = None  # the Observation's, once stored
    source: str | None = None  # a device's or file's name, when not typed in

    @property
    def systolic(self) -> float | None:
        return self.values.get("systolic")

    @property
    def diastolic(self) -> float | None:
        return self.values.get("diastolic")


def checked(reading: Reading) -> Reading:
    """The reading, if every value it needs is there and plausible; raises BadReading."""
    if reading.kind not in READING_KINDS:
        raise BadReading(N_("Choose what you measured"))
    if reading.taken.tzinfo is None:
        raise BadReading(N_("Say when the reading was taken"))
    for name in (*_FIELDS[reading.kind], *(("pulse",) if "pulse" in reading.values else ())):
        value = reading.values.get(name)
        low, high = LIMITS[name]
        if value is None:
            raise BadReading(N_("Fill in every number of the reading"))
        if not low <= value <= high:
            raise BadReading(N_("{value} is not a reading a home device gives; check the "
                                "number (between {low} and {high})"),
                             value=f"{value:g}", low=str(low), high=str(high))
    if reading.kind == "bp" and reading.values["diastolic"] >= reading.values["systolic"]:
        raise BadReading(N_("The upper number (systolic) is bigger than the lower one "
                            "(diastolic); check the order"))
    if reading.kind == "glucose" and reading.context not in MEAL_CONTEXTS:
        raise BadReading(N_("Say whether you had eaten before measuring your blood sugar"))
    return reading


def key_of(*parts: str) -> str:
    """A stable identifier for a reading that came without one (a meter export's line):
    the same line imported twice gets the same key."""
    return "urn:sha256:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def observation_of(reading: Reading, patient_id: str, plan_id: str | None,
                   performer: str | None = None) -> dict[str, Any]:
    kind = READING_KINDS[reading.kind]
    patient = {"reference": f"Patient/{patient_id}"}
    observation: dict[str, Any] = {
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": READING_ID_SYSTEM, "value": reading.key}],
        "category": [{"coding": [coding(OBSERVATION_CATEGORY, kind.category)]}],
        "code": {"coding": [coding(LOINC, kind.loinc, kind.display)]},
        "subject": patient, "effectiveDateTime": reading.taken.isoformat(timespec="seconds"),
        "performer": [{"reference": performer}] if performer else [patient],
    }
    if plan_id:
        observation["basedOn"] = [{"reference": f"CarePlan/{plan_id}"}]
    if reading.source:
        observation["device"] = {"display": reading.source}
    values = reading.values
    if reading.kind == "bp":
        observation["component"] = [
            {"code": {"coding": [coding(LOINC, SYSTOLIC, "Systolic blood pressure")]},
             "valueQuantity": quantity(values["systolic"], MM_HG)},
            {"code": {"coding": [coding(LOINC, DIASTOLIC, "Diastolic blood pressure")]},
             "valueQuantity": quantity(values["diastolic"], MM_HG)}]
        if "pulse" in values:
            observation["component"].append(
                {"code": {"coding": [coding(LOINC, HEART_RATE, "Heart rate")]},
                 "valueQuantity": quantity(values["pulse"], PER_MINUTE)})
    elif reading.kind == "glucose":
        observation["valueQuantity"] = quantity(values["glucose"], MG_DL)
        context = reading.context or "random"
        observation["component"] = [{
            "code": {"coding": [coding(MONITORING, MEAL_CONTEXT, "Meal context")]},
            "valueCodeableConcept": {"coding": [
                coding(MONITORING, context),
                coding(FASTING_SYSTEM, "F" if context == "fasting" else "NF")]}}]
    else:
        observation["valueQuantity"] = quantity(values["weight"], KG)
    return observation


def reading_of(observation: dict[str, Any]) -> Reading | None:
    """The reading an Observation holds, whoever wrote it; None when it is none mor
    follows, holds no value, or was entered in error."""
    if observation.get("status") in ("entered-in-error", "cancelled"):
        return None
    code = next((c.get("code") for c in (observation.get("code") or {}).get("coding") or ()
                 if c.get("system") == LOINC and c.get("code") in KIND_BY_LOINC), None)
    taken = moment_of(observation.get("effectiveDateTime") or observation.get(
        "effectiveInstant") or (observation.get("effectivePeriod") or {}).get("start"))
    if code is None or not isinstance(taken, datetime) or taken.tzinfo is None:
        return None
    values: dict[str, float] = {}
    context = None
    for component in observation.get("component") or ():
        codes = {c.get("code") for c in (component.get("code") or {}).get("coding") or ()}
        number = _number(component.get("valueQuantity"))
        if SYSTOLIC in codes and number is not None:
            values["systolic"] = number
        elif DIASTOLIC in codes and number is not None:
            values["diastolic"] = number
        elif HEART_RATE in codes and number is not None:
            values["pulse"] = number
        elif MEAL_CONTEXT in codes:
            context = next((c.get("code") for c in (component.get(
                "valueCodeableConcept") or {}).get("coding") or ()
                if c.get("system") == MONITORING), None)
    if code == GLUCOSE:
        number = _number(observation.get("valueQuantity"), mmol_factor=18.016)
        if number is not None:
            values["glucose"] = number
    elif code == WEIGHT:
        number = _number(observation.get("valueQuantity"))
        if number is not None:
            values["weight"] = number
    kind = KIND_BY_LOINC[code].key
    if any(name not in values for name in _FIELDS[kind]):
        return None
    if code == BLOOD_PRESSURE or kind == "bp":
        context = None
    key = next((i.get("value") for i in observation.get("identifier") or ()
                if i.get("value")), None) or f"Observation/{observation.get('id')}"
    device = (observation.get("device") or {}).get("display")
    return Reading(kind, taken, values, context, key, observation.get("id"), device)


def _number(value: Any, *, mmol_factor: float | None = None) -> float | None:
    if not isinstance(value, dict) or not isinstance(value.get("value"), int | float):
        return None
    number = float(value["value"])
    # A gateway may send blood sugar in mmol/L, as meters outside Thailand show it.
    if mmol_factor and value.get("code") == "mmol/L":
        return round(number * mmol_factor)
    return number


@dataclass(frozen=True, slots=True)
class Recorded:
    reading: Reading  # with its Observation's id
    new: bool  # False: it had been sent before, and was stored then


async def record(store: Store, caller: Principal, patient_id: str, reading: Reading,
                 plan_id: str | None) -> Recorded:
    """Store one reading in the patient's record as ``caller``, once: a reading whose
    identifier is already there is not stored again. Raises BadReading."""
    checked(reading)
    performer = caller.account.fhir_user if caller.account else None
    observation = observation_of(reading, patient_id, plan_id, performer)
    try:
        response = await dispatch(store, FhirRequest(
            method="POST", path="Observation", caller=caller, body=observation,
            if_none_exist=f"identifier={READING_ID_SYSTEM}|{reading.key}",
            prefer_return="representation"))
    except FhirError as error:
        raise BadReading(N_("The reading could not be stored: {reason}"),
                         reason=error.diagnostics) from error
    assert response.stored is not None
    stored = response.stored
    return Recorded(Reading(reading.kind, reading.taken, reading.values, reading.context,
                            reading.key, stored.id, reading.source), response.status == 201)
