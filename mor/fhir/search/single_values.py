"""Which date parameters hold at most one value per resource.

For such a parameter, ``start=ge2026-12-01&start=lt2026-12-29`` asks for one value
inside a range, and both bounds can be tested on the same index row: one index range
instead of two large sets intersected (every slot after the first date, and every slot
ever before the second). Where a parameter can hold several values (a Timing's
events, a repeating element), each bound may be met by a different value, as the FHIR
search rules allow, so the bounds stay separate conditions.
"""

from __future__ import annotations

import re
from functools import cache

from mor.fhir.fhirpath import split_union
from mor.fhir.search_parameters import SearchParameter
from mor.fhir.structure_validation import single_value_types

# The one type indexed as several date rows: one per event, and its bounds.
_MANY_ROWS_TYPE = "Timing"
_PATH = re.compile(
    r"^\(?(?P<root>[A-Z][A-Za-z]+)(?P<path>(?:\.[a-z][A-Za-z0-9]*)+)"
    r"(?:\.as\((?P<cast>[A-Za-z]+)\)| as (?P<cast2>[A-Za-z]+))?\)?$")


@cache
def _single(resource_type: str, expression: str) -> bool:
    paths: set[tuple[str, ...]] = set()
    casts: set[str | None] = set()
    for part in split_union(expression):
        match = _PATH.match(part.strip())
        if match is None or match["root"] != resource_type:
            return False
        paths.add(tuple(match["path"].lstrip(".").split(".")))
        casts.add(match["cast"] or match["cast2"])
    if len(paths) != 1:
        return False
    types = single_value_types(resource_type, paths.pop())
    if types is None:
        return False
    # Parts that cast one choice element to different types still name one value.
    chosen = types if None in casts else types & {c for c in casts if c}
    return bool(chosen) and _MANY_ROWS_TYPE not in chosen


def holds_one_date(definitions: list[SearchParameter], types: tuple[str, ...]) -> bool:
    """Whether the date parameter, as defined for each type searched, holds at most one
    value per resource."""
    return all(d.type == "date" and d.expression is not None and _single(t, d.expression)
               for d, t in zip(definitions, types, strict=True))
