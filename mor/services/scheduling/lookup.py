"""Searches the scheduling services run on the store as mor itself: the directory is
public to every signed-in person, and appointments are read here only to answer the
person they belong to, or staff of the health centre they are at."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import func, select

from mor.db.schema import resource
from mor.fhir.search import compile_search
from mor.fhir.search.execution import narrowed
from mor.fhir.store import Transaction

# More than any centre's directory entries of one kind.
MOST: Final = 10_000


async def find(tx: Transaction, resource_type: str, params: list[tuple[str, str]],
               limit: int = MOST) -> list[dict[str, Any]]:
    # Strict: a parameter mor does not know is a mistake here, never a search for everything.
    query = (await narrowed(tx, compile_search(resource_type, params, strict=True))).query
    found = await tx.read_many(await tx.find(query, limit=limit))
    return [stored.resource() for stored in found]


async def ids(tx: Transaction, resource_type: str, params: list[tuple[str, str]]
              ) -> list[str]:
    """The ids of the matches, in no particular order, without reading the resources."""
    compiled = await narrowed(tx, compile_search(resource_type, params, strict=True))
    matches = compiled.query.subquery()
    query = select(resource.c.id).join_from(matches, resource, resource.c.pk == matches.c.pk)
    return [row[0] for row in await tx.rows(query)]


async def first_per_sort_value(tx: Transaction, resource_type: str,
                               params: list[tuple[str, str]], *, limit: int | None = None
                               ) -> list[tuple[str, Any]]:
    """For each value of the first ``_sort`` key among the matches, in order, that value
    and the id of one match holding it, without reading the resources: what a page of
    times needs of the thousands of slots a centre has free in four weeks."""
    compiled = await narrowed(tx, compile_search(resource_type, params, strict=True))
    matches = compiled.query.subquery()
    value = matches.c[matches.c.keys()[1]]
    firsts = select(func.min(matches.c.pk).label("pk"), value.label("value")
                    ).group_by(value).order_by(value).limit(limit).subquery()
    query = select(resource.c.id, firsts.c.value).join_from(
        firsts, resource, resource.c.pk == firsts.c.pk).order_by(firsts.c.value)
    return [(row[0], row[1]) for row in await tx.rows(query)]


def reference_id(reference: Any, resource_type: str) -> str | None:
    """The id in ``{"reference": "Type/id"}``, if it names a resource of that type."""
    text = (reference or {}).get("reference", "") if isinstance(reference, dict) else ""
    prefix = f"{resource_type}/"
    return text.removeprefix(prefix) if text.startswith(prefix) else None
