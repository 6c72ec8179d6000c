"""A patient's resources in a date range, read from one index range.

``Observation?patient=Patient/1,Patient/2&date=ge2026-11-23`` is two conditions: the
patients' references, which match every resource of their history, and the dates, which
match every patient's readings of the fortnight. Each alone reads rows that grow with
the store; together they are a few dozen rows. ``idx_patient_date`` holds each date of a
resource once for each patient its ``patient`` parameter names, so the pair is one
lookup there per patient, the same size after two years of readings as after two weeks.

The pair replaces each date condition (paired with the patients) and the patient
condition, which every pair implies: a resource has a date row and a patient row that
both match exactly when it has a pair of them that does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_

from mor.db.schema import idx_patient_date
from mor.fhir.indexing import PATIENT_PARAMETER
from mor.fhir.search.conditions import (
    DateBounds,
    Scope,
    Unsupported,
    common_definition,
    date_clause,
    in_index,
    type_condition,
)
from mor.fhir.search.values import split_values


@dataclass(frozen=True, slots=True)
class Applied:
    """A search parameter applied as one condition: its name, its values (several when
    they are bounds on one date, see DateBounds) and the condition."""

    name: str
    values: tuple[str, ...]
    condition: ColumnElement[bool]


@dataclass(frozen=True, slots=True)
class Paired:
    """The conditions to drop (the patients' and the dates'), what replaces each date
    condition, and the bounds a sort can join, moved onto the pairs."""

    dropped: tuple[ColumnElement[bool], ...]
    replacing: dict[int, ColumnElement[bool]]  # by id() of the date condition replaced
    bounds: dict[int, DateBounds]  # by id() of the bounds' old condition


def paired(scope: Scope, applied: Sequence[Applied], bounds: Sequence[DateBounds]
           ) -> Paired | None:
    """The patient and date conditions of a search as pairs, or None when it has not
    both, or names the patients in a way the pairs cannot answer."""
    if scope.any_type:
        return None
    patient = next((a for a in applied if a.name in (PATIENT_PARAMETER,
                                                      f"{PATIENT_PARAMETER}:Patient")), None)
    ids = _patient_ids(scope, patient) if patient is not None else None
    dated = [a for a in applied if _is_plain_date(scope, a.name)]
    if patient is None or ids is None or not dated:
        return None
    replacing: dict[int, ColumnElement[bool]] = {}
    moved: dict[int, DateBounds] = {}
    for item in dated:
        definition = common_definition(scope, item.name)
        table = idx_patient_date.alias()
        dates = and_(*(or_(*(date_clause(table, part, definition)
                             for part in split_values(value))) for value in item.values))
        pairs = and_(table.c.patient_id.in_(ids), dates)
        condition = in_index(scope, table, item.name, pairs)
        replacing[id(item.condition)] = condition
        joinable = next((b for b in bounds if b.condition is item.condition), None)
        # Joined, the pairs give a sort one row per resource only with one patient.
        if joinable is not None and len(ids) == 1:
            where = and_(type_condition(table, scope), table.c.param == item.name, pairs)
            moved[id(item.condition)] = DateBounds(item.name, table, where, condition)
    return Paired((patient.condition, *(a.condition for a in dated)), replacing, moved)


def _patient_ids(scope: Scope, patient: Applied) -> list[str] | None:
    """The ids of the patients a ``patient`` condition names, when it names them all
    as local Patients (``Patient/1`` or, where the parameter refers only to Patients,
    ``1``); None for any other form (an absolute URL, an identifier)."""
    try:
        definition = common_definition(scope, PATIENT_PARAMETER)
    except Unsupported:
        return None
    if definition.type != "reference" or len(patient.values) != 1:
        return None
    typed = patient.name.endswith(":Patient") or tuple(definition.target) == ("Patient",)
    ids = []
    for value in split_values(patient.values[0]):
        segments = value.split("/")
        if len(segments) == 2 and segments[0] == "Patient" and segments[1]:
            ids.append(segments[1])
        elif len(segments) == 1 and value and typed and ":" not in value:
            ids.append(value)
        else:
            return None
    return ids


def _is_plain_date(scope: Scope, name: str) -> bool:
    if name.startswith("_") or ":" in name or "." in name:
        return False
    try:
        return common_definition(scope, name).type == "date"
    except Unsupported:
        return False


__all__ = ["Applied", "Paired", "paired"]
