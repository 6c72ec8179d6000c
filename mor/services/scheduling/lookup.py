"""Searches the scheduling services run on the store as mor itself: the directory is
public to every signed-in person, and appointments are read here only to answer the
person they belong to, or staff of the health centre they are at."""

from __future__ import annotations

from typing import Any, Final

from mor.fhir.search import compile_search
from mor.fhir.store import Transaction

# More than any centre's directory entries of one kind.
MOST: Final = 10_000


async def find(tx: Transaction, resource_type: str, params: list[tuple[str, str]],
               limit: int = MOST) -> list[dict[str, Any]]:
    # Strict: a parameter mor does not know is a mistake here, never a search for everything.
    query = compile_search(resource_type, params, strict=True).query
    found = await tx.read_many(await tx.find(query, limit=limit))
    return [stored.resource() for stored in found]


async def keys_in_order(tx: Transaction, resource_type: str, params: list[tuple[str, str]]
                        ) -> list[tuple[int, Any]]:
    """The matches' store keys with the value of their first ``_sort`` key, in order,
    without reading the resources: what a page of times needs of thousands of slots."""
    query = compile_search(resource_type, params, strict=True).query
    return [(row[0], row[1]) for row in await tx.rows(query)]


def reference_id(reference: Any, resource_type: str) -> str | None:
    """The id in ``{"reference": "Type/id"}``, if it names a resource of that type."""
    text = (reference or {}).get("reference", "") if isinstance(reference, dict) else ""
    prefix = f"{resource_type}/"
    return text.removeprefix(prefix) if text.startswith(prefix) else None
