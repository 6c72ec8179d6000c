"""A FHIR search request, from its query parameters to the SQL that answers it.

Parameters that filter become conditions (see :mod:`.conditions`); those that
shape the result (``_sort``, ``_count``, ``_include``, ``_summary`` ...) are
read here. Repeated parameters are ANDed, comma-separated values ORed.

What mor cannot apply is never silently dropped: under lenient handling (the
default) it is listed, with the reason, for the Bundle's OperationOutcome and
left out of the self link; under ``Prefer: handling=strict`` it is a 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, select

from mor.db.schema import resource
from mor.fhir.errors import BadRequest
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.search.conditions import (
    Context,
    DateBounds,
    Scope,
    Unsupported,
    condition,
    one_date_in_bounds,
    select_type_condition,
)
from mor.fhir.search.includes import Include, parse_include
from mor.fhir.search.patient_dates import Applied, Paired, paired
from mor.fhir.search.shaping import parse_elements, parse_summary
from mor.fhir.search.sorting import (
    Access,
    SortKey,
    checked_matches,
    decode_cursor,
    ordered_page,
    sort_keys,
)

DEFAULT_COUNT = 20
MAX_COUNT = 1000
TOTAL_MODES = ("none", "estimate", "accurate")

# Parameters that change how results are shown, never which resources match.
_PRESENTATION = frozenset({"_format", "_pretty"})
_NOT_IMPLEMENTED = {
    "_contained": "searching inside contained resources is not supported",
    "_containedType": "searching inside contained resources is not supported",
    "_list": "searching by List membership is not supported",
    "_query": "mor defines no named queries",
    "_filter": "the _filter query language is not supported",
}


@dataclass(slots=True)
class CompiledSearch:
    types: tuple[str, ...]
    conditions: list[ColumnElement[bool]]
    count: int = DEFAULT_COUNT
    cursor: list[Any] | None = None
    sort: list[SortKey] = field(default_factory=list)
    total: str = "none"
    summary: str | None = None
    elements: frozenset[str] | None = None
    includes: list[Include] = field(default_factory=list)
    # Conditions (also in ``conditions``) that a sort on their parameter can join.
    one_dates: list[DateBounds] = field(default_factory=list)
    # The parameters applied, for the Bundle's self and next links.
    applied: list[tuple[str, str]] = field(default_factory=list)
    # Parameters ignored under lenient handling, with the reason.
    ignored: list[tuple[str, str]] = field(default_factory=list)
    access: Access | None = None

    @property
    def summary_count(self) -> bool:
        return self.summary == "count"

    @property
    def filter_query(self) -> Select[Any]:
        """All matches, unordered: for counting."""
        matches, checks = checked_matches(
            select(resource.c.pk, resource.c.resource_type).where(*self.conditions),
            self.access)
        return select(matches.c.pk).where(*checks)

    @property
    def query(self) -> Select[Any]:
        """Matches in result order, starting after the cursor; resource key first."""
        page: Select[Any] = ordered_page(self.conditions, self.sort, self.cursor,
                                         joinable=self.one_dates, access=self.access)
        return page

    def page(self, limit: int) -> Select[Any]:
        """The first ``limit`` rows of ``query``, read no further than they need."""
        page: Select[Any] = ordered_page(self.conditions, self.sort, self.cursor, limit,
                                         joinable=self.one_dates, access=self.access)
        return page.limit(limit)


def compile_search(
    resource_type: str | Sequence[str] | None,
    params: Sequence[tuple[str, str]],
    *,
    strict: bool = False,
    context: Context | None = None,
    extra: Sequence[ColumnElement[bool]] = (),
    access: Access | None = None,
) -> CompiledSearch:
    """Compile a search of one type, several (system search with ``_type``) or all (None).

    ``extra`` adds conditions the URL implies, such as a compartment; ``access`` limits
    the search to what the reader may see.
    """
    if isinstance(resource_type, str):
        scope = Scope(resource, (_checked_type(resource_type),))
    elif resource_type:
        scope = Scope(resource, tuple(_checked_type(t) for t in resource_type))
    else:
        scope = Scope(resource, tuple(RESOURCE_TYPES), any_type=True)
    context = context or Context()
    compiled = CompiledSearch(scope.types, [select_type_condition(scope), *extra],
                              access=access)
    raw_cursor: str | None = None
    bounds = _bounds_on_one_date(scope, params)
    compiled.one_dates = [found[0] for found in bounds.values()]
    applied: list[Applied] = []
    for name, value in params:
        base = name.partition(":")[0]
        try:
            if base in _PRESENTATION:
                continue
            if base == "_cursor":
                raw_cursor = value
                continue
            if name in bounds:
                # All of this parameter's values are one condition, added once.
                for found in bounds.pop(name):
                    compiled.conditions.append(found.condition)
                    applied.append(Applied(name, tuple(v for n, v in params if n == name),
                                           found.condition))
                bounds[name] = []
            else:
                before = len(compiled.conditions)
                _apply(compiled, scope, context, name, base, value)
                if len(compiled.conditions) > before:
                    applied.append(Applied(name, (value,), compiled.conditions[-1]))
            compiled.applied.append((name, value))
        except Unsupported as reason:
            if strict:
                raise BadRequest(
                    f"Search parameter '{name}': {reason}; see the CapabilityStatement at "
                    "/metadata for what mor supports (or send Prefer: handling=lenient to "
                    "have it ignored)") from None
            compiled.ignored.append((name, str(reason)))
    if raw_cursor is not None:
        compiled.cursor = decode_cursor(raw_cursor, len(compiled.sort))
    pairs = paired(scope, applied, compiled.one_dates)
    if pairs is not None:
        _use_pairs(compiled, pairs)
    return compiled


def _use_pairs(compiled: CompiledSearch, pairs: Paired) -> None:
    """The search with its patient and date conditions as pairs (see patient_dates),
    first after the type condition: SQLite starts where the conditions start."""
    type_condition, *rest = compiled.conditions
    kept = [c for c in rest if not any(c is d for d in pairs.dropped)]
    compiled.conditions = [type_condition, *pairs.replacing.values(), *kept]
    compiled.one_dates = [pairs.bounds.get(id(b.condition), b) for b in compiled.one_dates]


def _bounds_on_one_date(scope: Scope, params: Sequence[tuple[str, str]]
                        ) -> dict[str, list[DateBounds]]:
    """For each date parameter given several times that holds one value per resource
    (``start=ge...&start=lt...``), the one condition all its values make."""
    values: dict[str, list[str]] = {}
    for name, value in params:
        if not name.startswith("_") and ":" not in name and "." not in name:
            values.setdefault(name, []).append(value)
    found = {name: one_date_in_bounds(scope, name, given) for name, given in values.items()}
    return {name: [bounds] for name, bounds in found.items() if bounds is not None}


def _checked_type(resource_type: str) -> str:
    if resource_type not in RESOURCE_TYPES:
        raise BadRequest(f"'{resource_type}' is not a FHIR R4 resource type")
    return resource_type


def _apply(compiled: CompiledSearch, scope: Scope, context: Context, name: str, base: str,
           value: str) -> None:
    if base == "_count":
        compiled.count = _parse_count(value)
    elif base == "_sort":
        if compiled.sort:
            raise BadRequest("_sort is given twice; list several keys in one: _sort=a,-b")
        compiled.sort = sort_keys(scope, value)
    elif base == "_total":
        if value not in TOTAL_MODES:
            raise BadRequest(f"_total={value!r}: use none, estimate or accurate")
        compiled.total = value
    elif base == "_summary":
        compiled.summary = parse_summary(value)
    elif base == "_elements":
        compiled.elements = parse_elements(value)
    elif base in ("_include", "_revinclude"):
        compiled.includes.append(parse_include(name, value))
    elif base in _NOT_IMPLEMENTED:
        raise Unsupported(_NOT_IMPLEMENTED[base])
    elif base == "_type":
        raise Unsupported("_type only applies to a search across types, at the FHIR base")
    else:
        compiled.conditions.append(condition(scope, name, value, context))


def _parse_count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise BadRequest(f"_count needs a whole number, not {value!r}") from None
    if count < 0:
        raise BadRequest(f"_count must be 0 or more, not {count}")
    return min(count, MAX_COUNT)
