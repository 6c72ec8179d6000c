"""Compiling a FHIR search into SQL over the search-index tables.

A search is a list of (name, value) pairs from the query string. Each
parameter becomes an ``EXISTS`` sub-query on the index table of its type; the
values of one parameter separated by commas are ORed, repeated parameters are
ANDed. Results come back in a stable order (the resource key) so that paging
continues after the last key seen instead of re-scanning with OFFSET.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    exists,
    false,
    literal,
    not_,
    or_,
    select,
    true,
)

from mor.db.schema import INDEX_TABLES, resource
from mor.fhir.errors import BadRequest
from mor.fhir.indexing import UNSUPPORTED_EXPRESSIONS, date_range, normalize_string
from mor.fhir.search_parameters import SearchParameter, parameters_for
from mor.fhir.validation import check_resource_type

DEFAULT_COUNT = 20
MAX_COUNT = 1000

# Parameters that shape the result rather than filter it.
RESULT_PARAMETERS = frozenset(
    {"_count", "_cursor", "_format", "_pretty", "_summary", "_total", "_elements", "_sort"}
)
_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True, slots=True)
class CompiledSearch:
    resource_type: str
    query: Select[Any]
    count: int
    cursor: int | None
    summary_count: bool
    # The parameters applied, for the Bundle's self link.
    applied: list[tuple[str, str]]
    # Parameters ignored under lenient handling, with the reason.
    ignored: list[tuple[str, str]] = field(default_factory=list)


def compile_search(
    resource_type: str, params: Sequence[tuple[str, str]], *, strict: bool = False
) -> CompiledSearch:
    check_resource_type(resource_type)
    definitions = parameters_for(resource_type)
    conditions: list[ColumnElement[bool]] = [
        resource.c.resource_type == resource_type,
        resource.c.deleted == false(),
    ]
    applied: list[tuple[str, str]] = []
    ignored: list[tuple[str, str]] = []
    count = DEFAULT_COUNT
    cursor: int | None = None
    summary_count = False
    for name, value in params:
        base_name, _, modifier = name.partition(":")
        if base_name == "_count":
            count = _parse_count(value)
            applied.append((name, value))
        elif base_name == "_cursor":
            cursor = _parse_int(name, value)
        elif base_name == "_summary" and value == "count":
            summary_count = True
            applied.append((name, value))
        elif base_name in RESULT_PARAMETERS:
            continue
        elif base_name == "_id":
            conditions.append(_id_condition(modifier, value))
            applied.append((name, value))
        elif base_name == "_lastUpdated":
            conditions.append(_last_updated_condition(value))
            applied.append((name, value))
        elif base_name in definitions:
            condition = _parameter_condition(resource_type, definitions[base_name], modifier,
                                             value)
            if condition is None:
                reason = f"the modifier ':{modifier}' is not supported on '{base_name}'"
                if strict:
                    raise BadRequest(f"Search parameter '{name}': {reason}")
                ignored.append((name, reason))
                continue
            conditions.append(condition)
            applied.append((name, value))
        else:
            reason = f"'{base_name}' is not a search parameter of {resource_type}"
            if strict:
                raise BadRequest(
                    f"Unknown search parameter '{name}': {reason}; see the CapabilityStatement "
                    "at /metadata for the parameters mor supports"
                )
            ignored.append((name, reason))
    if cursor is not None:
        conditions.append(resource.c.pk > cursor)
    query = select(resource.c.pk).where(*conditions).order_by(resource.c.pk)
    return CompiledSearch(resource_type, query, count, cursor, summary_count, applied, ignored)


def _parse_count(value: str) -> int:
    count = _parse_int("_count", value)
    if count < 0:
        raise BadRequest(f"_count must be 0 or more, not {count}")
    return min(count, MAX_COUNT)


def _parse_int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"Search parameter '{name}' needs a whole number, not {value!r}") from None


def _split_values(value: str) -> list[str]:
    """Split on commas that are not escaped with a backslash, and unescape."""
    parts = re.split(r"(?<!\\),", value)
    return [re.sub(r"\\([,$|\\])", r"\1", part) for part in parts]


def _split_unescaped(value: str, separator: str) -> list[str]:
    return [part.replace("\\" + separator, separator)
            for part in re.split(r"(?<!\\)" + re.escape(separator), value)]


def _id_condition(modifier: str, value: str) -> ColumnElement[bool]:
    if modifier == "not":
        return resource.c.id.not_in(_split_values(value))
    if modifier:
        raise BadRequest(f"_id does not take the modifier ':{modifier}'")
    return resource.c.id.in_(_split_values(value))


def _last_updated_condition(value: str) -> ColumnElement[bool]:
    clauses = []
    for item in _split_values(value):
        prefix, raw = _prefix(item)
        low, high = _date_value("_lastUpdated", raw)
        column = resource.c.last_updated
        clauses.append(_range_comparison(prefix, column, column, low, high))
    return or_(*clauses)


def _parameter_condition(
    resource_type: str, definition: SearchParameter, modifier: str, value: str
) -> ColumnElement[bool] | None:
    param_type = definition.type
    table_key = param_type
    if modifier == "identifier" and param_type == "reference":
        table_key, param_name = "token", f"{definition.code}:identifier"
    else:
        param_name = definition.code
    table = INDEX_TABLES.get(table_key)
    if table is None:
        return None
    if modifier == "missing":
        if value not in ("true", "false"):
            raise BadRequest(f"'{definition.code}:missing' takes true or false, not {value!r}")
        present = _exists(table, resource_type, param_name, true())
        return not_(present) if value == "true" else present
    if table_key == "token" and modifier == "not":
        # :not matches resources with no such code at all, not just ones with another.
        clauses = [_token(table, part, definition) for part in _split_values(value)]
        return not_(_exists(table, resource_type, param_name, or_(*clauses)))
    if table_key == "reference" and modifier in definition.target:
        clauses = [_reference(table, f"{modifier}/{part.rsplit('/', 1)[-1]}", definition)
                   for part in _split_values(value)]
        return _exists(table, resource_type, param_name, or_(*clauses))
    builder = _BUILDERS.get((table_key, modifier))
    if builder is None:
        return None
    clauses = [builder(table, value_part, definition) for value_part in _split_values(value)]
    return _exists(table, resource_type, param_name, or_(*clauses))


def _exists(
    table: Table, resource_type: str, param: str, condition: ColumnElement[bool]
) -> ColumnElement[bool]:
    return exists().where(
        table.c.resource_pk == resource.c.pk,
        table.c.resource_type == resource_type,
        table.c.param == param,
        condition,
    )


def _string_default(table: Table, value: str, _: SearchParameter) -> ColumnElement[bool]:
    return table.c.value_norm.startswith(normalize_string(value), autoescape=True)


def _string_exact(table: Table, value: str, _: SearchParameter) -> ColumnElement[bool]:
    return table.c.value_exact == value


def _string_contains(table: Table, value: str, _: SearchParameter) -> ColumnElement[bool]:
    return table.c.value_norm.contains(normalize_string(value), autoescape=True)


def _token(table: Table, value: str, _: SearchParameter) -> ColumnElement[bool]:
    parts = _split_unescaped(value, "|")
    if len(parts) == 1:
        return table.c.code == parts[0]
    if len(parts) != 2:
        raise BadRequest(f"Token {value!r} has more than one '|': use system|code")
    system, code = parts
    if system == "":
        return and_(table.c.system.is_(None), table.c.code == code)
    if code == "":
        return table.c.system == system
    return and_(table.c.system == system, table.c.code == code)


def _token_text(table: Table, value: str, _: SearchParameter) -> ColumnElement[bool]:
    return table.c.text.ilike(f"{value}%")


def _reference(table: Table, value: str, definition: SearchParameter) -> ColumnElement[bool]:
    if value.startswith(("http://", "https://", "urn:")):
        return or_(table.c.target_url == value.split("|", 1)[0])
    segments = value.split("/")
    if len(segments) >= 2 and segments[-2]:
        return and_(table.c.target_type == segments[-2], table.c.target_id == segments[-1])
    if len(definition.target) == 1:
        return and_(table.c.target_type == definition.target[0], table.c.target_id == value)
    return table.c.target_id == value


def _date(table: Table, value: str, definition: SearchParameter) -> ColumnElement[bool]:
    prefix, raw = _prefix(value)
    low, high = _date_value(definition.code, raw)
    return _range_comparison(prefix, table.c.low, table.c.high, low, high)


def _number(table: Table, value: str, definition: SearchParameter) -> ColumnElement[bool]:
    prefix, raw = _prefix(value)
    low, high = _number_range(definition.code, raw)
    return _value_comparison(prefix, table.c.value, low, high, float(raw))


def _quantity(table: Table, value: str, definition: SearchParameter) -> ColumnElement[bool]:
    parts = _split_unescaped(value, "|")
    prefix, raw = _prefix(parts[0])
    low, high = _number_range(definition.code, raw)
    condition = _value_comparison(prefix, table.c.value, low, high, float(raw))
    if len(parts) == 3:
        system, code = parts[1], parts[2]
        if system:
            condition = and_(condition, table.c.system == system, table.c.code == code)
        elif code:
            condition = and_(condition, or_(table.c.code == code, table.c.unit == code))
    elif len(parts) != 1:
        raise BadRequest(f"Quantity {value!r} must be number or number|system|code")
    return condition


def _uri(table: Table, value: str, _: SearchParameter) -> ColumnElement[bool]:
    return table.c.value == value


def _uri_below(table: Table, value: str, _: SearchParameter) -> ColumnElement[bool]:
    return table.c.value.startswith(value, autoescape=True)


def _uri_above(table: Table, value: str, _: SearchParameter) -> ColumnElement[bool]:
    # The stored URI is a prefix of the one searched for (a parent of it).
    return literal(value).startswith(table.c.value)


_Builder = Callable[[Table, str, SearchParameter], ColumnElement[bool]]
_BUILDERS: dict[tuple[str, str], _Builder] = {
    ("string", ""): _string_default,
    ("string", "exact"): _string_exact,
    ("string", "contains"): _string_contains,
    ("token", ""): _token,
    ("token", "text"): _token_text,
    ("token", "identifier"): _token,
    ("reference", ""): _reference,
    ("date", ""): _date,
    ("number", ""): _number,
    ("quantity", ""): _quantity,
    ("uri", ""): _uri,
    ("uri", "below"): _uri_below,
    ("uri", "above"): _uri_above,
}


def _prefix(value: str) -> tuple[str, str]:
    if len(value) > 2 and value[:2] in _PREFIXES and not value[2].isalpha():
        return value[:2], value[2:]
    return "eq", value


def _date_value(name: str, raw: str) -> tuple[int, int]:
    try:
        return date_range(raw)
    except ValueError:
        raise BadRequest(
            f"Search parameter '{name}': {raw!r} is not a FHIR date; use a form like "
            "2026, 2026-11, 2026-11-23 or 2026-11-23T09:00:00+07:00"
        ) from None


def _number_range(name: str, raw: str) -> tuple[float, float]:
    """The range a search number stands for, given its precision (5.4 means [5.35, 5.45))."""
    if not _NUMBER.match(raw):
        raise BadRequest(f"Search parameter '{name}': {raw!r} is not a number")
    mantissa = raw.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(raw.lower().split("e")[1]) if "e" in raw.lower() else 0
    half_step = 0.5 * 10 ** (exponent - decimals)
    number = float(raw)
    return number - half_step, number + half_step


def _range_comparison(
    prefix: str, low_col: ColumnElement[Any], high_col: ColumnElement[Any], low: int, high: int
) -> ColumnElement[bool]:
    """Compare a stored [low, high] range with a search range, as the FHIR date rules say."""
    if prefix == "eq":
        return and_(low_col >= low, high_col <= high)
    if prefix == "ne":
        return or_(low_col < low, high_col > high)
    if prefix == "gt":
        return high_col > high
    if prefix == "lt":
        return low_col < low
    if prefix == "ge":
        return or_(high_col > high, and_(low_col >= low, high_col <= high))
    if prefix == "le":
        return or_(low_col < low, and_(low_col >= low, high_col <= high))
    if prefix == "sa":
        return low_col > high
    if prefix == "eb":
        return high_col < low
    # ap: overlapping a range widened by 10% of its distance from now, at least a day.
    margin = max(86_400_000_000, abs(high - low) // 10)
    return and_(low_col <= high + margin, high_col >= low - margin)


def _value_comparison(
    prefix: str, column: ColumnElement[Any], low: float, high: float, number: float
) -> ColumnElement[bool]:
    if prefix == "eq":
        return and_(column >= low, column < high)
    if prefix == "ne":
        return or_(column < low, column >= high)
    if prefix == "gt":
        return column > number
    if prefix == "lt":
        return column < number
    if prefix == "ge":
        return column >= number
    if prefix == "le":
        return column <= number
    if prefix == "sa":
        return column > number
    if prefix == "eb":
        return column < number
    margin = abs(number) * 0.1
    return and_(column >= number - margin, column <= number + margin)


def supported_parameters(resource_type: str) -> list[SearchParameter]:
    """The search parameters of a type that mor can answer, for the CapabilityStatement."""
    supported = {key for key, modifier in _BUILDERS if modifier == ""}
    return [p for p in parameters_for(resource_type).values()
            if p.type in supported and p.url not in UNSUPPORTED_EXPRESSIONS]
