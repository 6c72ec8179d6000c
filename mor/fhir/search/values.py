"""Reading search values: escapes, prefixes, dates and numbers with their precision,
and how a prefix compares a stored value with the value searched for."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from mor.fhir.errors import BadRequest
from mor.fhir.indexing import date_range

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DAY = 86_400_000_000


def split_values(value: str) -> list[str]:
    """Split on commas that are not escaped with a backslash, and unescape."""
    parts = re.split(r"(?<!\\),", value)
    return [re.sub(r"\\([,$|\\])", r"\1", part) for part in parts]


def split_unescaped(value: str, separator: str) -> list[str]:
    return [part.replace("\\" + separator, separator)
            for part in re.split(r"(?<!\\)" + re.escape(separator), value)]


def prefix(value: str) -> tuple[str, str]:
    if len(value) > 2 and value[:2] in PREFIXES and not value[2].isalpha():
        return value[:2], value[2:]
    return "eq", value


def date_value(name: str, raw: str) -> tuple[int, int]:
    try:
        return date_range(raw)
    except ValueError:
        raise BadRequest(
            f"Search parameter '{name}': {raw!r} is not a FHIR date; use a form like "
            "2026, 2026-11, 2026-11-23 or 2026-11-23T09:00:00+07:00"
        ) from None


def number_range(name: str, raw: str) -> tuple[float, float]:
    """The range a search number stands for, given its precision (5.4 means [5.35, 5.45))."""
    if not _NUMBER.match(raw):
        raise BadRequest(f"Search parameter '{name}': {raw!r} is not a number")
    mantissa = raw.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(raw.lower().split("e")[1]) if "e" in raw.lower() else 0
    half_step = 0.5 * 10 ** (exponent - decimals)
    number = float(raw)
    return number - half_step, number + half_step


def range_comparison(
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
    # The bounds ``ge`` and ``le`` imply (a stored range never ends before it starts)
    # are repeated outside the OR, where an index can start or stop at them.
    if prefix == "ge":
        return and_(high_col >= low,
                    or_(high_col > high, and_(low_col >= low, high_col <= high)))
    if prefix == "le":
        return and_(low_col <= high,
                    or_(low_col < low, and_(low_col >= low, high_col <= high)))
    if prefix == "sa":
        return low_col > high
    if prefix == "eb":
        return high_col < low
    # ap: overlapping a range widened by 10% of its width, at least a day.
    margin = max(_DAY, abs(high - low) // 10)
    return and_(low_col <= high + margin, high_col >= low - margin)


def value_comparison(
    prefix: str, column: ColumnElement[Any], low: float, high: float, number: float,
    convert: Callable[[float], float] | None = None,
) -> ColumnElement[bool]:
    """Compare a stored number with a search number and its precision range [low, high).

    ``convert`` takes the search bounds to the column's unit (a UCUM conversion); they are
    worked out in the unit searched for first, so ``ap`` means 10% of the value written.
    """
    if prefix == "ap":
        margin = abs(number) * 0.1
        low, high = number - margin, number + margin
    if convert is not None:
        low, high, number = convert(low), convert(high), convert(number)
    if prefix == "eq":
        return and_(column >= low, column < high)
    if prefix == "ne":
        return or_(column < low, column >= high)
    if prefix in ("gt", "sa"):
        return column > number
    if prefix in ("lt", "eb"):
        return column < number
    if prefix == "ge":
        return column >= number
    if prefix == "le":
        return column <= number
    return and_(column >= low, column <= high)
