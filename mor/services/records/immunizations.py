"""A patient's immunisations: each R4 ``Immunization`` of theirs as the vaccine, the day it
was given (or was due and not given) and its status, newest first.

Read as the caller through the FHIR interactions (:func:`mor.services.fhir_calls.search`),
so the same access rules apply and the reading is recorded in the patient's audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from mor.fhir.permissions import Caller
from mor.fhir.store import Store
from mor.services.fhir_calls import search
from mor.services.records.elements import Concept, PartialDate, concept_of, partial_date_of

# More than a person's childhood and adult schedules hold together.
_MOST: Final = 200


@dataclass(frozen=True, slots=True)
class Immunization:
    immunization_id: str
    vaccine: Concept
    # The day it was given, as precise as written (often only a year, from a vaccination
    # card); None when only a text such as "as a child" was recorded (occurrence_text).
    given: PartialDate | None
    occurrence_text: str | None
    status: str  # R4 immunization-status: completed, not-done (entered-in-error left out)


async def immunizations(store: Store, caller: Caller, patient_id: str
                        ) -> tuple[Immunization, ...]:
    """The patient's immunisations as ``caller`` may see them, newest first; those
    recorded in error are left out (they never happened)."""
    found = await search(store, caller, "Immunization", [
        ("patient", f"Patient/{patient_id}"), ("status:not", "entered-in-error"),
        ("_sort", "-date"), ("_count", str(_MOST))])
    return tuple(shot for resource in found if (shot := _immunization(resource)) is not None)


def _immunization(resource: dict[str, Any]) -> Immunization | None:
    vaccine = concept_of(resource.get("vaccineCode"))
    if vaccine is None:
        return None
    text = resource.get("occurrenceString")
    return Immunization(
        immunization_id=resource["id"], vaccine=vaccine,
        given=partial_date_of(resource.get("occurrenceDateTime")),
        occurrence_text=text if isinstance(text, str) and text else None,
        status=str(resource.get("status", "")))
