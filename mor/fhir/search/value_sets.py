"""The codes of stored ValueSets, for the token modifiers ``:in`` and ``:not-in``.

A ValueSet's codes come from its expansion when it has one, else from its
compose: concepts listed, whole code systems included, other ValueSets
included by URL, and concepts excluded. Filters (``is-a`` and the like) need a
terminology server; a ValueSet that uses them is refused with that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mor.fhir.errors import BadRequest
from mor.fhir.search.compiler import compile_search
from mor.fhir.search.conditions import ValueSetCodes
from mor.fhir.search.values import split_values
from mor.fhir.store import Transaction

_MAX_DEPTH = 5


async def resolve_value_sets(tx: Transaction,
                             params: Sequence[tuple[str, str]]) -> dict[str, ValueSetCodes]:
    """The ValueSets that the ``:in``/``:not-in`` parameters of a search name."""
    urls = {url for name, value in params if name.endswith((":in", ":not-in"))
            for url in split_values(value)}
    resolved: dict[str, ValueSetCodes] = {}
    for url in sorted(urls):
        found = await _value_set_codes(tx, url, 0)
        if found is not None:
            resolved[url] = found
    return resolved


async def _value_set_codes(tx: Transaction, url: str, depth: int) -> ValueSetCodes | None:
    if depth > _MAX_DEPTH:
        raise BadRequest(f"ValueSet {url} includes other ValueSets more than {_MAX_DEPTH} "
                         "deep")
    canonical, _, version = url.partition("|")
    params = [("url", canonical)] + ([("version", version)] if version else [])
    pks = await tx.find(compile_search("ValueSet", params, extra=tx.limits()).query, limit=1)
    stored = await tx.read_many(pks)
    if not stored:
        return None
    value_set = stored[0].resource()
    expansion = value_set.get("expansion")
    if isinstance(expansion, dict) and expansion.get("contains"):
        codes: set[tuple[str | None, str]] = set()
        _expansion_codes(expansion["contains"], codes)
        return ValueSetCodes(frozenset(codes))
    return await _compose_codes(tx, url, value_set.get("compose") or {}, depth)


def _expansion_codes(contains: list[Any], codes: set[tuple[str | None, str]]) -> None:
    for item in contains:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("code"), str):
            codes.add((item.get("system"), item["code"]))
        _expansion_codes(item.get("contains") or [], codes)


async def _compose_codes(tx: Transaction, url: str, compose: dict[str, Any],
                         depth: int) -> ValueSetCodes:
    codes: set[tuple[str | None, str]] = set()
    systems: set[str] = set()
    for include in compose.get("include") or []:
        if include.get("filter"):
            raise BadRequest(f"ValueSet {url} selects codes with filters, which need a "
                             "terminology server; store it with an expansion instead")
        system = include.get("system")
        concepts = include.get("concept") or []
        for concept in concepts:
            codes.add((system, concept["code"]))
        if system and not concepts and not include.get("valueSet"):
            systems.add(system)
        for nested_url in include.get("valueSet") or []:
            nested = await _value_set_codes(tx, nested_url, depth + 1)
            if nested is None:
                raise BadRequest(f"ValueSet {url} includes {nested_url}, which is not stored")
            codes |= nested.codes
            systems |= nested.systems
    for exclude in compose.get("exclude") or []:
        for concept in exclude.get("concept") or []:
            codes.discard((exclude.get("system"), concept["code"]))
    return ValueSetCodes(frozenset(codes), frozenset(systems))
