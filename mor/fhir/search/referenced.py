"""Whom a search's matches refer to, read from the index alone: the patients with a blood
pressure reading since yesterday, the patient of each active plan, without reading the
resources themselves (20,000 plans are 30 MB of JSON; their patients are one index)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, select

from mor.db.schema import idx_reference, resource
from mor.fhir.search.compiler import compile_search
from mor.fhir.search.execution import narrowed
from mor.fhir.store import Transaction


async def references_of_matches(tx: Transaction, resource_type: str,
                                params: Sequence[tuple[str, str]], *, reference: str,
                                target_type: str) -> list[tuple[str, str]]:
    """For each match of the search, its id with the id of each ``target_type`` its
    reference parameter ``reference`` names (a match naming none is left out). Not
    limited to what a reader may see: for mor's own background work."""
    compiled = await narrowed(tx, compile_search(resource_type, params, strict=True))
    matches = compiled.filter_query.subquery()
    pointing = idx_reference.alias("pointing")
    rows = await tx.rows(
        select(resource.c.id, pointing.c.target_id).select_from(matches)
        .join(pointing, and_(pointing.c.resource_pk == matches.c.pk,
                             pointing.c.param == reference,
                             pointing.c.target_type == target_type,
                             pointing.c.target_id.is_not(None)))
        .join(resource, resource.c.pk == matches.c.pk).distinct())
    return [(str(row[0]), str(row[1])) for row in rows]
