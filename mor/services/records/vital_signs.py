"""Vital signs: the kinds a clinician looks at, each known by its LOINC codes (as the FHIR
R4 vital signs profiles code them), and an Observation read as the values of its kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from mor.services.records.elements import Quantity, codes_of, first_moment, quantity_of

LOINC: Final = "http://loinc.org"


@dataclass(frozen=True, slots=True)
class VitalKind:
    key: str  # the LOINC code of its FHIR profile, by which pages name it
    codes: tuple[str, ...]  # the LOINC codes an Observation of this kind may have
    # A panel's values (blood pressure: systolic, diastolic), by LOINC code, in the
    # order they are written.
    components: tuple[str, ...] = ()


BLOOD_PRESSURE: Final = VitalKind("85354-9", ("85354-9",), ("8480-6", "8462-4"))
# In the order a clinician reads them.
VITAL_KINDS: Final = (
    BLOOD_PRESSURE,
    VitalKind("8867-4", ("8867-4",)),  # heart rate
    VitalKind("9279-1", ("9279-1",)),  # respiratory rate
    VitalKind("8310-5", ("8310-5",)),  # body temperature
    # Pulse oximetry, and arterial saturation, which pulse oximetry is also coded as.
    VitalKind("59408-5", ("59408-5", "2708-6")),
    VitalKind("29463-7", ("29463-7",)),  # body weight
    VitalKind("8302-2", ("8302-2",)),  # body height
    VitalKind("39156-5", ("39156-5",)),  # body mass index
)


@dataclass(frozen=True, slots=True)
class VitalSign:
    kind: VitalKind
    observation_id: str
    effective: datetime | date | None
    # One value, or a panel's in the kind's order (None for one not recorded).
    values: tuple[Quantity | None, ...]


def search_of(kind: VitalKind, patient_id: str) -> list[tuple[str, str]]:
    """The search for a patient's Observations of this kind that stand (newest first with
    ``_sort=-date``). By code alone: LOINC's vital-sign codes say what was measured, and
    devices often send them without the vital-signs category."""
    return [("patient", f"Patient/{patient_id}"),
            ("code", ",".join(f"{LOINC}|{code}" for code in kind.codes)),
            ("status:not", "entered-in-error,cancelled")]


def vital_sign_of(kind: VitalKind, observation: dict[str, Any]) -> VitalSign | None:
    """The Observation's values as of its kind; None when it holds none."""
    if kind.components:
        by_code = {code: quantity_of(component.get("valueQuantity"))
                   for component in observation.get("component") or ()
                   if isinstance(component, dict)
                   for system, code in codes_of(component.get("code")) if system == LOINC}
        values = tuple(by_code.get(code) for code in kind.components)
    else:
        values = (quantity_of(observation.get("valueQuantity")),)
    if all(value is None for value in values):
        return None
    period = observation.get("effectivePeriod") or {}
    return VitalSign(kind, observation["id"], first_moment(
        observation.get("effectiveDateTime"), observation.get("effectiveInstant"),
        period.get("end"), period.get("start"), observation.get("issued")), values)
