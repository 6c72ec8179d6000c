"""``_include`` and ``_revinclude``: resources that come with a page of results.

``_include=Encounter:subject`` adds what the matches refer to through that
parameter (``:Patient`` at the end narrows the target type, ``*`` takes every
reference parameter); ``_revinclude=Provenance:target`` adds the resources that
refer to the matches. With ``:iterate`` the same is applied again to what was
included, until nothing new comes. Included resources are never the page's own
matches, never appear twice and do not count towards ``_count``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select

from mor.db.schema import idx_reference, resource
from mor.fhir.errors import BadRequest
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.search_parameters import parameters_for
from mor.fhir.store import Transaction

# A page never brings more than this many included resources; the Bundle says so
# when the limit cuts some off, so the client can narrow the search.
MAX_INCLUDED = 1000
# Rounds of :iterate; real graphs (MedicationRequest -> Medication -> Organization)
# are a few links deep.
MAX_ITERATIONS = 5


@dataclass(frozen=True, slots=True)
class Include:
    reverse: bool
    iterate: bool
    # None for '*': every reference parameter (of source_type, when set).
    source_type: str | None
    param: str | None
    target_type: str | None

    def as_parameter(self) -> tuple[str, str]:
        name = "_revinclude" if self.reverse else "_include"
        if self.iterate:
            name += ":iterate"
        if self.source_type is None:
            return name, "*"
        value = f"{self.source_type}:{self.param or '*'}"
        return name, value + (f":{self.target_type}" if self.target_type else "")


def parse_include(name: str, value: str) -> Include:
    base, _, modifier = name.partition(":")
    reverse = base == "_revinclude"
    if modifier not in ("", "iterate", "recurse"):
        raise BadRequest(f"'{name}': the only modifier of {base} is :iterate")
    iterate = modifier in ("iterate", "recurse")
    if value == "*":
        return Include(reverse, iterate, None, None, None)
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise BadRequest(f"{base}={value!r}: write [type]:[parameter] or "
                         f"[type]:[parameter]:[target type], e.g. {base}="
                         + ("Provenance:target" if reverse else "Observation:subject"))
    source_type, param = parts[0], parts[1]
    target_type = parts[2] if len(parts) == 3 else None
    if source_type not in RESOURCE_TYPES:
        raise BadRequest(f"{base}={value!r}: {source_type} is not a resource type")
    if target_type is not None and target_type not in RESOURCE_TYPES:
        raise BadRequest(f"{base}={value!r}: {target_type} is not a resource type")
    if param != "*":
        definition = parameters_for(source_type).get(param)
        if definition is None or definition.type != "reference":
            raise BadRequest(f"{base}={value!r}: '{param}' is not a reference parameter of "
                             f"{source_type}")
    return Include(reverse, iterate, source_type, None if param == "*" else param,
                   target_type)


@dataclass(frozen=True, slots=True)
class Found:
    pk: int
    resource_type: str
    id: str


def include_query(include: Include, sources: Sequence[Found], tx: Transaction
                  ) -> Select[Any] | None:
    """The resources ``include`` adds for ``sources`` that the reader of ``tx`` may see;
    None when it adds none."""
    ref = idx_reference.alias()
    other = resource.alias()
    conditions: list[ColumnElement[bool]] = [other.c.deleted == false(), *tx.limits(other)]
    if include.param is not None:
        conditions.append(ref.c.param == include.param)
    if include.source_type is not None:
        conditions.append(ref.c.resource_type == include.source_type)
    if include.target_type is not None:
        conditions.append(ref.c.target_type == include.target_type)
    if not include.reverse:
        pks = [s.pk for s in sources
               if include.source_type in (None, s.resource_type)]
        if not pks:
            return None
        conditions += [ref.c.resource_pk.in_(pks),
                       other.c.resource_type == ref.c.target_type,
                       other.c.id == ref.c.target_id]
    else:
        by_type: dict[str, list[str]] = {}
        for source in sources:
            if include.target_type in (None, source.resource_type):
                by_type.setdefault(source.resource_type, []).append(source.id)
        if not by_type:
            return None
        conditions += [
            or_(*[and_(ref.c.target_type == t, ref.c.target_id.in_(ids))
                  for t, ids in sorted(by_type.items())]),
            other.c.pk == ref.c.resource_pk]
    return (select(other.c.pk, other.c.resource_type, other.c.id).where(*conditions)
            .distinct().order_by(other.c.pk))
