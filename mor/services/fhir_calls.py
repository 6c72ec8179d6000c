"""Services act on the FHIR store through the same interactions as an API client, as the
person they serve, so the same access rules and the same audit records apply."""

from __future__ import annotations

from typing import Any

from mor.fhir.interactions import dispatch
from mor.fhir.permissions import Caller
from mor.fhir.requests import FhirRequest
from mor.fhir.store import Store


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


async def transaction(store: Store, caller: Caller, writes: list[tuple[str, dict[str, Any]]]
                      ) -> None:
    """Write resources all together or not at all: ``writes`` are (``Type/id``, resource)
    pairs, each an update that creates the resource when it is new."""
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {**resource, "id": path.partition("/")[2]},
         "request": {"method": "PUT", "url": path}}
        for path, resource in writes]}
    await dispatch(store, FhirRequest(method="POST", path="", caller=caller, body=bundle,
                                      prefer_return="minimal"))
