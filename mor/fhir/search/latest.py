"""The latest match per referenced resource: for each patient, their last blood-pressure
reading in a quarter, in one query over the indexes, without reading the others (what
FHIR's ``Observation/$lastn`` gives per patient and code, with n = 1)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, select

from mor.db.schema import idx_date, idx_reference
from mor.fhir.search.compiler import compile_search
from mor.fhir.search.execution import narrowed
from mor.fhir.store import Transaction


async def latest_per_reference(tx: Transaction, resource_type: str,
                               params: list[tuple[str, str]], *, reference: str,
                               target_type: str, targets: Sequence[str], date: str
                               ) -> list[int]:
    """The store keys of, for each of ``targets`` (ids of ``target_type``) that the
    search parameter ``reference`` of the matches points at, the match with the latest
    value of the date parameter ``date`` (ties: the last stored). Matches without that
    date are left out."""
    if not targets:
        return []
    compiled = await narrowed(tx, compile_search(resource_type, params, strict=True))
    matches = compiled.filter_query.subquery()
    pointing, dated = idx_reference.alias("pointing"), idx_date.alias("dated")
    rank = func.row_number().over(partition_by=pointing.c.target_id, order_by=(
        dated.c.low.desc(), matches.c.pk.desc())).label("rank")
    ranked = select(matches.c.pk, rank).join_from(matches, pointing, and_(
        pointing.c.resource_pk == matches.c.pk, pointing.c.param == reference,
        pointing.c.target_type == target_type, pointing.c.target_id.in_(list(targets)))
    ).join(dated, and_(dated.c.resource_pk == matches.c.pk, dated.c.param == date)
           ).subquery()
    return [row[0] for row in await tx.rows(select(ranked.c.pk).where(ranked.c.rank == 1))]
