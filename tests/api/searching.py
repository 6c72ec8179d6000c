"""Helpers for search tests: store resources, search, follow pages."""

from __future__ import annotations

from typing import Any

import httpx

STRICT = {"Prefer": "handling=strict"}


async def put(client: httpx.AsyncClient, *resources: dict[str, Any]) -> None:
    for resource in resources:
        response = await client.put(f"/{resource['resourceType']}/{resource['id']}",
                                    json=resource)
        assert response.status_code in (200, 201), response.text


async def search(client: httpx.AsyncClient, path: str, params: Any = None,
                 *, strict: bool = True) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=STRICT if strict else {})
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    assert bundle["type"] == "searchset"
    return bundle


def matches(bundle: dict[str, Any]) -> list[str]:
    """The ids of the matches, in order."""
    return [e["resource"]["id"] for e in bundle.get("entry", [])
            if e["search"]["mode"] == "match"]


def included(bundle: dict[str, Any]) -> list[str]:
    return [f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in bundle.get("entry", []) if e["search"]["mode"] == "include"]


async def ids(client: httpx.AsyncClient, path: str, params: Any = None) -> set[str]:
    return set(matches(await search(client, path, params)))


def next_link(bundle: dict[str, Any]) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


async def all_pages(client: httpx.AsyncClient, path: str,
                    params: Any = None) -> list[dict[str, Any]]:
    bundles = [await search(client, path, params)]
    while (url := next_link(bundles[-1])) is not None:
        bundles.append(await search(client, url))
    return bundles


def coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
