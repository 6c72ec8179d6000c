"""The R4 CompartmentDefinitions: which resources belong to a patient (or encounter,
practitioner, related person or device) and through which reference parameters.

``data/compartments.json`` is generated from those definitions by
``scripts/generate_search_parameters.py``. Kept apart from search so that indexing,
which records patient membership for access control, can use it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

import orjson

from mor.fhir.errors import BadRequest

_DATA = Path(__file__).parent / "data" / "compartments.json"


@cache
def _all() -> Mapping[str, Mapping[str, tuple[str, ...]]]:
    raw = orjson.loads(_DATA.read_bytes())
    return MappingProxyType({
        code: MappingProxyType({t: tuple(params) for t, params in members.items()})
        for code, members in raw.items()})


def compartment_types() -> tuple[str, ...]:
    return tuple(_all())


def members(compartment: str) -> Mapping[str, tuple[str, ...]]:
    """Resource types in the compartment, with the parameters that link them to it."""
    found = _all().get(compartment)
    if found is None:
        raise BadRequest(f"{compartment} is not a compartment; the compartments are "
                         f"{', '.join(_all())}")
    return found
