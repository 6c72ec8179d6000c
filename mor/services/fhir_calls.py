"""Services act on the FHIR store through the same interactions as an API client, as the
person they serve, so the same access rules and the same audit records apply."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal, select, union_all

from mor.fhir.access_records import record_apart
from mor.fhir.errors import FhirError
from mor.fhir.interactions import dispatch, execute
from mor.fhir.permissions import Access, Caller, Interaction
from mor.fhir.requests import FhirRequest
from mor.fhir.search import compile_search
from mor.fhir.search.indexed import IndexedMatch, indexed_matches
from mor.fhir.store import Store, Transaction


async def search(store: Store, caller: Caller, resource_type: str,
                 params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The matches of a search (included resources left out)."""
    response = await dispatch(store, FhirRequest(method="GET", path=resource_type,
                                                 caller=caller, params=params))
    body = response.body or {}
    return [e["resource"] for e in body.get("entry", [])
            if e["resource"]["resourceType"] == resource_type]


async def read(store: Store, caller: Caller, path: str) -> dict[str, Any]:
    """The resource at ``Type/id``; raises NotFound when the caller may not see it."""
    response = await dispatch(store, FhirRequest(method="GET", path=path, caller=caller))
    assert response.stored is not None
    return response.stored.resource()


async def write(store: Store, caller: Caller, method: str, path: str,
                resource: dict[str, Any]) -> None:
    await dispatch(store, FhirRequest(method=method, path=path, caller=caller, body=resource,
                                      prefer_return="minimal"))


async def create(store: Store, caller: Caller, resource: dict[str, Any]) -> str:
    """Create a resource as ``caller``; returns its id."""
    response = await dispatch(store, FhirRequest(
        method="POST", path=str(resource["resourceType"]), caller=caller, body=resource,
        prefer_return="minimal"))
    assert response.stored is not None
    return response.stored.id


async def transaction(store: Store, caller: Caller, writes: list[tuple[str, dict[str, Any]]],
                      *, if_match: Mapping[str, str] | None = None) -> None:
    """Write resources all together or not at all: ``writes`` are (``Type/id``, resource)
    pairs, each an update that creates the resource when it is new. ``if_match`` maps
    paths to the version each must still be at (else PreconditionFailed, nothing
    written)."""
    versions = if_match or {}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {**resource, "id": path.partition("/")[2]},
         "request": {"method": "PUT", "url": path,
                     **({"ifMatch": f'W/"{versions[path]}"'} if path in versions else {})}}
        for path, resource in writes]}
    await dispatch(store, FhirRequest(method="POST", path="", caller=caller, body=bundle,
                                      prefer_return="minimal"))


@dataclass(frozen=True, slots=True)
class Found:
    """A search's matches, and the resources its ``_include`` brought."""

    matches: list[dict[str, Any]]
    included: list[dict[str, Any]]


class Reads:
    """Reads and searches answered in one transaction of the caller's (see reading)."""

    def __init__(self, tx: Transaction, caller: Caller) -> None:
        self._tx = tx
        self._caller = caller

    async def read(self, path: str) -> dict[str, Any]:
        """The resource at ``Type/id``; raises NotFound when the caller may not see it."""
        response = await execute(self._tx, FhirRequest(method="GET", path=path,
                                                       caller=self._caller))
        assert response.stored is not None
        return response.stored.resource()

    async def search(self, resource_type: str, params: list[tuple[str, str]]) -> Found:
        # Strict: a parameter mor cannot apply is a mistake in the service, never a
        # search for more than was meant.
        response = await execute(self._tx, FhirRequest(
            method="GET", path=resource_type, caller=self._caller, params=params,
            prefer_strict=True))
        entries = (response.body or {}).get("entry", [])
        return Found([e["resource"] for e in entries if e["search"]["mode"] == "match"],
                     [e["resource"] for e in entries if e["search"]["mode"] == "include"])

    async def indexed(self, resource_type: str, params: list[tuple[str, str]], *,
                      limit: int, tokens: Sequence[str] = (), references: Sequence[str] = (),
                      dates: Sequence[str] = ()) -> list[IndexedMatch]:
        """What the index holds for the matches of a search (see indexed_matches), to
        choose which to show: limited to what the caller may see, like any search, but
        not named in the audit record, which names what the caller saw. Read what is
        then shown."""
        self._caller.check(Interaction.SEARCH, resource_type)
        compiled = compile_search(resource_type, params, strict=True,
                                  access=self._tx.limits)
        return await indexed_matches(self._tx, compiled, limit=limit, tokens=tokens,
                                     references=references, dates=dates)

    async def firsts(self, resource_type: str, searches: Sequence[list[tuple[str, str]]]
                     ) -> list[dict[str, Any] | None]:
        """The first match of each search (each with its ``_sort``), or None, in one
        query: "the latest of each kind" costs one search, not one per kind."""
        self._caller.check(Interaction.SEARCH, resource_type)
        pages = [compile_search(resource_type, params, strict=True,
                                access=self._tx.limits).page(1)
                 .subquery() for params in searches]
        rows = await self._tx.rows(select(union_all(*[
            select(literal(i).label("search"), page.c.pk) for i, page in enumerate(pages)
        ]).subquery()))
        found = {stored.pk: stored.resource()
                 for stored in await self._tx.read_many([pk for _, pk in rows])}
        first: list[dict[str, Any] | None] = [None] * len(searches)
        for i, pk in rows:
            first[i] = found.get(pk)
        return first


@asynccontextmanager
async def reading(store: Store, caller: Caller, recorded_as: Access) -> AsyncIterator[Reads]:
    """Several reads and searches that one page shows together, as one request of the
    caller's: the same checks and visibility as each would have on its own, and one audit
    record (``recorded_as``) naming every resource they showed, refused or failed ones
    too. It is stored when the block ends, before anything read can leave mor."""
    try:
        async with store.reading(caller.visibility) as tx:
            try:
                yield Reads(tx, caller)
            finally:
                recorded_as.resources = dict(tx.touched)
    except FhirError as error:
        recorded_as.status, recorded_as.failure = error.status, error.diagnostics
        await record_apart(store, caller, recorded_as)
        raise
    await record_apart(store, caller, recorded_as)
