"""A patient's vital signs over time: the latest measurements of each kind, read in one
search as the reader (so one audit record), for the charts beside the record."""

from __future__ import annotations

from typing import Any, Final

from mor.auth.policy import Principal
from mor.fhir.store import Store
from mor.services.fhir_calls import search
from mor.services.records.vital_signs import (
    LOINC,
    VITAL_KINDS,
    VitalKind,
    VitalSign,
    vital_sign_of,
)

# Each chart shows the latest measurements of its kind.
POINTS: Final = 12
# Enough for a dozen of each kind measured at every visit.
_MOST_VITALS: Final = 200


async def vital_history(store: Store, reader: Principal, patient_id: str, *,
                        points: int = POINTS) -> list[tuple[VitalKind, tuple[VitalSign, ...]]]:
    """Each kind measured twice or more, with its latest ``points`` measurements, oldest
    first. The record summary holds only the latest of each kind."""
    codes = [code for kind in VITAL_KINDS for code in kind.codes]
    found = await search(store, reader, "Observation", [
        ("patient", f"Patient/{patient_id}"),
        ("code", ",".join(f"{LOINC}|{code}" for code in codes)),
        ("status:not", "entered-in-error,cancelled"), ("_sort", "-date"),
        ("_count", str(_MOST_VITALS))])
    history = []
    for kind in VITAL_KINDS:
        signs = [sign for observation in found
                 if _is_of(observation, kind)
                 and (sign := vital_sign_of(kind, observation)) is not None
                 and sign.effective is not None][:points]
        if len(signs) >= 2:
            history.append((kind, tuple(reversed(signs))))
    return history


def _is_of(observation: dict[str, Any], kind: VitalKind) -> bool:
    code = observation.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    return any(isinstance(c, dict) and c.get("system") == LOINC and c.get("code") in
               kind.codes for c in codings or ())
