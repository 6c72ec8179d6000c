"""The patient in context when a clinician launches a SMART app standalone with
``launch/patient``: SMART App Launch asks the EHR to let the user pick one. mor offers
the patients the clinician may see, found by name or identifier, and checks the choice
against the same access rule (reading through the FHIR interactions, so the picker's
searches are audited like any other)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from mor.fhir.errors import FhirError
from mor.fhir.permissions import Caller
from mor.fhir.store import Store
from mor.services.fhir_calls import read, search

# Enough to find the person meant; a longer list is a sign to type more of the name.
MOST_SHOWN: Final = 20
_IDENTIFIER: Final = re.compile(r"[0-9A-Za-z-]*[0-9][0-9A-Za-z-]*")


@dataclass(frozen=True, slots=True)
class PatientChoice:
    id: str
    name: str
    birth_date: str | None


async def find_patients(store: Store, caller: Caller, text: str) -> list[PatientChoice]:
    """Patients the caller may see whose name starts with ``text``, or whose identifier
    is ``text`` (a national ID or passport number has digits; a name has none)."""
    text = text.strip()
    params = [("_count", str(MOST_SHOWN)), ("_sort", "family,given")]
    if _IDENTIFIER.fullmatch(text):
        params.append(("identifier", text.replace("-", "")))
    elif text:
        params.append(("name", text))
    return [_choice(found) for found in await search(store, caller, "Patient", params)]


async def may_pick(store: Store, caller: Caller, patient_id: str) -> bool:
    if not patient_id or "/" in patient_id:
        return False
    try:
        await read(store, caller, f"Patient/{patient_id}")
    except FhirError:
        return False
    return True


def _choice(patient: dict[str, Any]) -> PatientChoice:
    names = patient.get("name") or [{}]
    first = names[0]
    name = first.get("text") or " ".join([*first.get("given", []), first.get("family", "")])
    return PatientChoice(patient["id"], name.strip() or patient["id"], patient.get("birthDate"))
