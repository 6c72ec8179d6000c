"""``_sort`` and paging: the order of results and where the next page starts.

A sort key is a value computed per resource from the search index (the lowest
value of the parameter when ascending, the highest when descending, as a
person reading "newest first" expects of a resource with several dates).
Resources without a value come last in either direction, and the resource key
breaks ties, so the order is total and stable.

Paging is by keyset: the cursor in a ``next`` link holds the sort values of the
last resource on the page, and the next page asks for what comes after them.
No page re-reads the ones before it, however deep the paging goes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Column, ColumnElement, FromClause, Select, and_, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.sql.selectable import Subquery
from sqlalchemy.sql.visitors import replacement_traverse
from sqlalchemy.types import Text

from mor.db.schema import INDEX_TABLES, resource
from mor.fhir.errors import BadRequest
from mor.fhir.search.conditions import DateBounds, Scope, Unsupported, common_definition
from mor.fhir.search.driving import index_rows

_SORT_COLUMNS = {
    "string": ("value_norm", "value_norm"),
    "token": ("code", "code"),
    "reference": ("target_id", "target_id"),
    "date": ("low", "high"),
    "number": ("value", "value"),
    "quantity": ("value", "value"),
    "uri": ("value", "value"),
}


class binary_text(FunctionElement[str]):
    """Text compared by code point on every database (SQLite's default; PostgreSQL's
    "C" collation), so sorting and paging agree between the two."""

    type = Text()
    inherit_cache = True


@compiles(binary_text)
def _binary_text_default(element: binary_text, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(binary_text, "postgresql")
def _binary_text_postgresql(element: binary_text, compiler: Any, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


@dataclass(frozen=True, slots=True)
class SortKey:
    name: str
    descending: bool
    expression: ColumnElement[Any]
    is_text: bool


def sort_keys(scope: Scope, value: str) -> list[SortKey]:
    """The keys of ``_sort=a,-b``; raises Unsupported for a parameter that cannot sort."""
    keys = []
    for item in value.split(","):
        item = item.strip()
        descending = item.startswith("-")
        code = item.lstrip("-")
        if not code:
            raise BadRequest(f"_sort has an empty key in {value!r}; write e.g. _sort=-date,name")
        keys.append(_key(scope, code, descending))
    return keys


def _key(scope: Scope, code: str, descending: bool) -> SortKey:
    table = scope.table
    if code == "_id":
        return SortKey(code, descending, binary_text(table.c.id), True)
    if code == "_lastUpdated":
        return SortKey(code, descending, table.c.last_updated, False)
    definition = common_definition(scope, code)
    columns = _SORT_COLUMNS.get(definition.type)
    if columns is None:
        raise Unsupported(f"results cannot be sorted by the {definition.type} parameter "
                          f"'{code}'")
    index = INDEX_TABLES[definition.type].alias()
    column = index.c[columns[1] if descending else columns[0]]
    is_text = definition.type in ("string", "token", "reference", "uri")
    value: ColumnElement[Any] = binary_text(column) if is_text else column
    if definition.type == "quantity":
        # In UCUM base units where the unit converts, so 1.2 g/L sorts above 100 mg/dL.
        value = func.coalesce(index.c.canonical_value, column)
    aggregate = func.max(value) if descending else func.min(value)
    expression = select(aggregate).where(
        index.c.resource_pk == table.c.pk, index.c.param == code).scalar_subquery()
    return SortKey(code, descending, expression, is_text)


# What the reader may see, as conditions on a table (or query) with ``pk`` and
# ``resource_type`` columns: see Transaction.limits.
Access = Callable[[FromClause], list[ColumnElement[bool]]]


def checked_matches(matches: Select[Any], access: Access | None
                    ) -> tuple[Subquery, list[ColumnElement[bool]]]:
    """``matches`` (keys and types) as a sub-query, and the reader's access conditions on
    its rows. With any, the sub-query is one PostgreSQL plans on its own (``OFFSET 0``),
    so that they are tested on the matches alone rather than pushed inside, onto every
    row the search's first condition reads."""
    if access is not None:
        fenced = matches.offset(0).subquery("matches")
        checks = access(fenced)
        if checks:
            return fenced, checks
    return matches.subquery("matches"), []


def ordered_page(base_conditions: list[ColumnElement[bool]], keys: list[SortKey],
                 cursor: list[Any] | None, limit: int | None = None,
                 joinable: Sequence[DateBounds] = (), access: Access | None = None,
                 ) -> Any:
    """The query for one page: resource keys and sort values, in order, after ``cursor``;
    ``limit``: the most rows the caller will read, which may let the page start at an
    index instead of at every match. A key on a parameter with ``joinable`` bounds is
    read from the one index row the bounds test, joined, rather than looked up again
    for each match. ``access``: what the reader may see (see Transaction.limits)."""
    if not keys:
        # In key order the page may stop after its first rows: the reader's access is
        # tested with the rest, as each candidate comes.
        if access is not None:
            base_conditions = [*base_conditions, *access(resource)]
        after = cursor[-1] if cursor is not None else None
        driven = _driven_by_one_index(base_conditions, after, limit)
        query = select(resource.c.pk).where(*(driven or base_conditions))
        if after is not None:
            query = query.where(resource.c.pk > after)
        return query.order_by(resource.c.pk)
    conditions = list(base_conditions)
    joined: list[DateBounds] = []
    values: list[ColumnElement[Any]] = []
    for key in keys:
        bounds = next((b for b in joinable if b.code == key.name
                       and any(c is b.condition for c in conditions)), None)
        if bounds is None:
            values.append(key.expression)
            continue
        conditions = [c for c in conditions if c is not bounds.condition]
        joined.append(bounds)
        values.append(bounds.rows.c.high if key.descending else bounds.rows.c.low)
    inner = _from_index_rows(joined, conditions, values) if joined else None
    if inner is None:
        inner = _from_resources(joined, conditions, values)
    # Sorting reads every match anyway; the reader's access, the costliest condition
    # (from each row to its patient and on to the patient's centre or consent), is
    # tested on the matches alone, after the search's own conditions. Left to itself,
    # PostgreSQL tests it where it reads the first condition's rows: on each of a
    # centre's 20,000 alert Tasks to keep the 1,000 open ones.
    matches, checks = checked_matches(inner, access)
    return _in_key_order(matches, keys, cursor).where(*checks)


def _from_resources(joined: list[DateBounds], conditions: list[ColumnElement[bool]],
                    values: list[ColumnElement[Any]]) -> Select[Any]:
    source: FromClause = resource
    for bounds in joined:
        source = source.join(bounds.rows, and_(bounds.rows.c.resource_pk == resource.c.pk,
                                               bounds.where))
    return select(resource.c.pk, resource.c.resource_type,
                  *[v.label(f"k{i}") for i, v in enumerate(values)]
                  ).select_from(source).where(*conditions)


_NO_OPTIONS: Mapping[str, Any] = {}


class _NeedsResource(Exception):
    pass


def _from_index_rows(joined: list[DateBounds], conditions: list[ColumnElement[bool]],
                     values: list[ColumnElement[Any]]) -> Select[Any] | None:
    """The same matches, read from the first joined bounds' index rows without the
    resource table, when no condition needs more of a resource than its key.

    An index row exists only for the current version of a resource of its type, so
    the type and not-deleted condition (the first) is the index rows' own; the
    resource table's rows would be read only to be joined back (a third of a
    four-week slot search)."""
    driver = joined[0]
    key = driver.rows.c.resource_pk

    def swap(element: Any, **_: Any) -> Any:
        if element is resource.c.pk:
            return key
        if isinstance(element, Column) and element.table is resource:
            raise _NeedsResource
        return None

    try:
        rest = [replacement_traverse(c, _NO_OPTIONS, swap) for c in conditions[1:]]
        keyed = [replacement_traverse(v, _NO_OPTIONS, swap) for v in values]
        source: FromClause = driver.rows
        for bounds in joined[1:]:
            on: ColumnElement[bool] = and_(bounds.rows.c.resource_pk == resource.c.pk,
                                           bounds.where)
            source = source.join(bounds.rows, replacement_traverse(on, _NO_OPTIONS, swap))
    except _NeedsResource:
        return None
    return select(key.label("pk"), driver.rows.c.resource_type.label("resource_type"),
                  *[v.label(f"k{i}") for i, v in enumerate(keyed)]
                  ).select_from(source).where(driver.where, *rest)


def _in_key_order(inner: FromClause, keys: list[SortKey], cursor: list[Any] | None) -> Any:
    columns: list[ColumnElement[Any]] = [inner.c[f"k{i}"] for i in range(len(keys))]
    query = select(inner.c.pk, *columns)
    if cursor is not None:
        query = query.where(_after(inner, keys, columns, cursor))
    order = []
    for key, column in zip(keys, columns, strict=True):
        expression = binary_text(column) if key.is_text else column
        order.append((expression.desc() if key.descending else expression.asc()).nulls_last())
    return query.order_by(*order, inner.c.pk)


def _driven_by_one_index(conditions: list[ColumnElement[bool]], after: Any,
                         limit: int | None) -> list[ColumnElement[bool]] | None:
    """For a search with one condition on the index (``pk IN (SELECT resource_pk FROM
    idx_... WHERE ...)``) in key order: the same search with the page's ``LIMIT`` and the
    cursor inside the sub-query, so that only the page's rows are read, in index order,
    instead of every match (34,000 Conditions of a common code, to show 20). Index rows
    exist only for current resources of their type, so no match is lost; None for any
    other search."""
    if limit is None or len(conditions) != 2:
        return None
    type_condition, condition = conditions
    rows = index_rows(condition)
    if rows is None:
        return None
    key = rows.selected_columns[0]
    if after is not None:
        rows = rows.where(key > after)
    page = rows.distinct().order_by(key).limit(limit)
    return [type_condition, resource.c.pk.in_(page)]


def _after(inner: FromClause, keys: list[SortKey], columns: list[ColumnElement[Any]],
           cursor: list[Any]) -> ColumnElement[bool]:
    """Rows that sort after the cursor: a lexicographic comparison, key by key."""
    result: ColumnElement[bool] = inner.c.pk > cursor[-1]
    for key, column, last in reversed(list(zip(keys, columns, cursor, strict=False))):
        value = binary_text(column) if key.is_text else column
        if last is None:
            # Missing values come last: only other missing ones can follow.
            result = and_(column.is_(None), result)
            continue
        beyond = value < last if key.descending else value > last
        result = or_(beyond, column.is_(None), and_(value == last, result))
    return result


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str, keys: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        values = None
    if (not isinstance(values, list) or len(values) != keys + 1
            or not isinstance(values[-1], int)):
        raise BadRequest(f"The paging cursor {cursor!r} is not one mor issued for this "
                         "search; follow the 'next' link of the previous page instead of "
                         "editing it")
    return values


__all__ = ["Access", "SortKey", "checked_matches", "decode_cursor", "encode_cursor",
           "ordered_page", "sort_keys"]
