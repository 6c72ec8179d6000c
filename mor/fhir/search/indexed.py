"""What the index holds for each match of a search, read without the matches themselves.

A page that ranks many resources and shows a few needs only some of their values to rank
them: the nurse's worklist orders a centre's 1,000 open alerts by patient, rule and age
and shows 50 patients. Read as resources, the 1,000 alerts were most of the worklist's
time; their index rows are a few thousand short tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

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
    if tokens:
        for pk, param, system, code in await tx.rows(
                select(idx_token.c.resource_pk, idx_token.c.param, idx_token.c.system,
                       idx_token.c.code).where(
                    key_in(idx_token.c.resource_pk, keys, postgres=tx.is_postgres),
                    idx_token.c.param.in_(list(tokens)))):
            matches[pk].tokens.setdefault(param, []).append((system, code))
    if references:
        for pk, param, target_type, target_id in await tx.rows(
                select(idx_reference.c.resource_pk, idx_reference.c.param,
                       idx_reference.c.target_type, idx_reference.c.target_id).where(
                    key_in(idx_reference.c.resource_pk, keys, postgres=tx.is_postgres),
                    idx_reference.c.param.in_(list(references)),
                    idx_reference.c.target_id.is_not(None))):
            matches[pk].references.setdefault(param, []).append(f"{target_type}/{target_id}")
    if dates:
        for pk, param, low in await tx.rows(
                select(idx_date.c.resource_pk, idx_date.c.param, idx_date.c.low).where(
                    key_in(idx_date.c.resource_pk, keys, postgres=tx.is_postgres),
                    idx_date.c.param.in_(list(dates)))):
            matches[pk].dates.setdefault(param, []).append(int(low))
    return list(matches.values())
