"""What the index holds for each match of a search, read without the matches themselves.

A page that ranks many resources and shows a few needs only some of their values to rank
them: the nurse's worklist orders a centre's 1,000 open alerts by patient, rule and age
and shows 50 patients. Read as resources, the 1,000 alerts were most of the worklist's
time; their index rows are a few thousand short tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Table, select

from mor.db.keys import key_in
from mor.db.schema import idx_date, idx_reference, idx_token, resource
from mor.fhir.search.compiler import CompiledSearch
from mor.fhir.search.execution import narrowed
from mor.fhir.store import Transaction


@dataclass(frozen=True, slots=True)
class IndexedMatch:
    """One match: its id and the values indexed for the parameters asked for."""

    id: str
    # Per parameter: (system, code) of each token; "Type/id" of each local reference;
    # the start (microseconds since the epoch) of each date.
    tokens: dict[str, list[tuple[str | None, str | None]]] = field(default_factory=dict)
    references: dict[str, list[str]] = field(default_factory=dict)
    dates: dict[str, list[int]] = field(default_factory=dict)

    def codes(self, param: str, system: str | None = None) -> list[str]:
        """The codes of a token parameter, of ``system`` if given."""
        return [code for s, code in self.tokens.get(param, ())
                if code and (system is None or s == system)]


async def indexed_matches(tx: Transaction, compiled: CompiledSearch, *, limit: int,
                          tokens: Sequence[str] = (), references: Sequence[str] = (),
                          dates: Sequence[str] = ()) -> list[IndexedMatch]:
    """The first ``limit`` matches of ``compiled`` (by its ``_sort``), in no particular
    order, each with the index's values of the token, reference and date parameters
    named. Limited to what the reader may see when ``compiled`` was given their access,
    like the search itself."""
    compiled = await narrowed(tx, compiled)
    page = compiled.page(limit).subquery()
    found = await tx.rows(select(page.c.pk, resource.c.id).join(
        resource, resource.c.pk == page.c.pk))
    matches = {int(pk): IndexedMatch(str(resource_id)) for pk, resource_id in found}
    keys = list(matches)
    if not keys:
        return []
    for pk, param, system, code in await _rows(tx, idx_token, tokens, keys):
        matches[pk].tokens.setdefault(param, []).append((system, code))
    for pk, param, target_type, target_id in await _rows(tx, idx_reference, references, keys):
        if target_id is not None:
            matches[pk].references.setdefault(param, []).append(f"{target_type}/{target_id}")
    for pk, param, low in await _rows(tx, idx_date, dates, keys):
        matches[pk].dates.setdefault(param, []).append(int(low))
    return list(matches.values())


# The columns each index table gives, after the key and the parameter's name.
_VALUES: Final = {idx_token.name: ("system", "code"),
                  idx_reference.name: ("target_type", "target_id"),
                  idx_date.name: ("low",)}


async def _rows(tx: Transaction, table: Table, params: Sequence[str], keys: list[int]
                ) -> list[tuple[Any, ...]]:
    if not params:
        return []
    return await tx.rows(select(table.c.resource_pk, table.c.param,
                                *(table.c[name] for name in _VALUES[table.name])).where(
        key_in(table.c.resource_pk, keys, postgres=tx.is_postgres),
        table.c.param.in_(list(params))))
