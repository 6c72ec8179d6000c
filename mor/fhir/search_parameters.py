"""The official FHIR R4 search parameters, by resource type.

The definitions are generated from the R4 package by
``scripts/generate_search_parameters.py`` into ``data/search_parameters.json``.

Many definitions cover several resource types with one expression, e.g.
``clinical-patient`` is ``AllergyIntolerance.patient | CarePlan.subject.where(...) |
...``. :func:`parameters_for` hands out a copy per type whose expression keeps only
the parts rooted at that type, so indexing a Condition never evaluates the other
31 paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

from mor.fhir.fhirpath import is_type, root_identifier, split_union
from mor.fhir.resource_types import RESOURCE_TYPES

_DATA = Path(__file__).parent / "data" / "search_parameters.json"
_GENERIC_BASES = ("Resource", "DomainResource")


@dataclass(frozen=True, slots=True)
class Component:
    """One part of a composite parameter: another parameter, evaluated at ``expression``
    relative to each value of the composite's own expression."""

    definition: str
    expression: str


@dataclass(frozen=True, slots=True)
class SearchParameter:
    code: str
    url: str
    type: str
    # None for the few that have no FHIRPath (_text, _content, _query, _filter ...).
    expression: str | None
    base: tuple[str, ...]
    target: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()
    comparators: tuple[str, ...] = ()
    modifiers: tuple[str, ...] = ()
    chains: tuple[str, ...] = ()
    multiple_or: bool | None = None
    multiple_and: bool | None = None


def _parameter(data: dict[str, Any]) -> SearchParameter:
    return SearchParameter(
        code=data["code"],
        url=data["url"],
        type=data["type"],
        expression=data.get("expression"),
        base=tuple(data.get("base", ())),
        target=tuple(data.get("target", ())),
        components=tuple(Component(c["definition"], c["expression"])
                         for c in data.get("component", ())),
        comparators=tuple(data.get("comparator", ())),
        modifiers=tuple(data.get("modifier", ())),
        chains=tuple(data.get("chain", ())),
        multiple_or=data.get("multipleOr"),
        multiple_and=data.get("multipleAnd"),
    )


ALL_PARAMETERS: tuple[SearchParameter, ...] = tuple(
    _parameter(item) for item in orjson.loads(_DATA.read_bytes()))
"""Every definition in the package, as published (expressions not split)."""


def _applies(part: str, resource_type: str) -> bool:
    root = root_identifier(part)
    if root is None or not root[0].isupper():
        # A relative path such as "name | alias" (InsurancePlan) applies to every base.
        return True
    return root == resource_type or (root in _GENERIC_BASES and is_type(resource_type, root))


def expression_for(parameter: SearchParameter, resource_type: str) -> str | None:
    """The parts of the parameter's expression that apply to ``resource_type``."""
    if parameter.expression is None:
        return None
    parts = split_union(parameter.expression)
    kept = [part for part in parts if _applies(part, resource_type)]
    if len(kept) == len(parts):
        return parameter.expression
    return " | ".join(kept) if kept else None


def _specificity(parameter: SearchParameter, resource_type: str) -> int:
    return 0 if resource_type in parameter.base else 1


@cache
def parameters_for(resource_type: str) -> Mapping[str, SearchParameter]:
    """The search parameters of a resource type by code, including the Resource and
    DomainResource ones that apply to it; empty for an unknown type."""
    if resource_type not in RESOURCE_TYPES:
        return MappingProxyType({})
    found: dict[str, SearchParameter] = {}
    candidates = [p for p in ALL_PARAMETERS
                  if resource_type in p.base
                  or any(b in _GENERIC_BASES and is_type(resource_type, b) for b in p.base)]
    # A type's own definition wins over a generic one with the same code; the URL order
    # makes any remaining tie deterministic.
    candidates.sort(key=lambda p: (_specificity(p, resource_type), p.url))
    for parameter in candidates:
        if parameter.code in found:
            continue
        expression = expression_for(parameter, resource_type)
        if expression != parameter.expression:
            parameter = replace(parameter, expression=expression)
        found[parameter.code] = parameter
    return MappingProxyType(dict(sorted(found.items())))


@cache
def _by_url() -> Mapping[str, SearchParameter]:
    return MappingProxyType({p.url: p for p in ALL_PARAMETERS})


def parameter_by_url(url: str) -> SearchParameter | None:
    """A definition by its canonical URL, as composite parameters name their components."""
    return _by_url().get(url)
