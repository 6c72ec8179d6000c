"""Compartment search: the resources that belong to one patient (or encounter,
practitioner, related person or device), as the R4 CompartmentDefinitions say.

A resource is in ``Patient/123``'s compartment when one of the listed reference
parameters of its type points at ``Patient/123``; the patient is in its own compartment.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from mor.db.schema import idx_reference
from mor.fhir.compartment_definitions import compartment_types, members
from mor.fhir.search.conditions import Scope

__all__ = ["compartment_types", "in_compartment", "members"]


def in_compartment(scope: Scope, compartment: str,
                   owner: str | Sequence[str] | None) -> ColumnElement[bool]:
    """Resources of ``scope`` in the compartment of ``compartment/owner`` (several owners'
    when given a list, anyone's when None)."""
    owners = [owner] if isinstance(owner, str) else owner
    linked = members(compartment)
    types = [t for t in scope.types if t in linked] if not scope.any_type else list(linked)
    ref = idx_reference.alias()
    clauses: list[ColumnElement[bool]] = []
    if types:
        by_type = or_(*[and_(ref.c.resource_type == t, ref.c.param.in_(linked[t]))
                        for t in types])
        clauses.append(scope.table.c.pk.in_(select(ref.c.resource_pk).where(
            by_type, ref.c.target_type == compartment,
            true() if owners is None else ref.c.target_id.in_(owners))))
    if scope.any_type or compartment in scope.types:
        clauses.append(and_(scope.table.c.resource_type == compartment,
                            true() if owners is None else scope.table.c.id.in_(owners)))
    return or_(*clauses) if clauses else false()
