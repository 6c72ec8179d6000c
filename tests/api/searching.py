"""Helpers for search tests: store resources, search, follow pages."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

import httpx
from hypothesis import strategies as st

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


def ids_on_every_page(client: httpx.Client, path: str, params: Any) -> list[str]:
    """The ids a strict search finds, in order, following its next links to the end."""
    found: list[str] = []
    url: str | None = path
    request_params: Any = params
    while url is not None:
        response = client.get(url, params=request_params, headers=STRICT)
        assert response.status_code == 200, response.text
        bundle = response.json()
        found += [e["resource"]["id"] for e in bundle.get("entry", [])]
        url = next_link(bundle)
        request_params = None
    return found


def coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


# -- dates as the spec compares them, for the property-based tests ------------------------

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


def _fhir_date(parts: tuple[int, int | None, int | None]) -> str:
    year, month, day = parts
    text = f"{year:04d}"
    if month is not None:
        text += f"-{month:02d}"
        if day is not None:
            text += f"-{day:02d}"
    return text


# A small space of dates, so that searches often meet stored values at their edges
# (28 February is the last day of its month and of nothing else).
dates = st.tuples(st.integers(1970, 1971), st.none() | st.sampled_from([1, 2, 12]),
                  st.none() | st.sampled_from([1, 28])).map(_fhir_date)


def day_range(value: str) -> tuple[int, int]:
    """The first and last day a FHIR date covers, as ordinals."""
    parts = [int(p) for p in value.split("-")]
    year = parts[0]
    if len(parts) == 1:
        return date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
    month = parts[1]
    if len(parts) == 2:
        last = calendar.monthrange(year, month)[1]
        return date(year, month, 1).toordinal(), date(year, month, last).toordinal()
    day = date(year, month, parts[2]).toordinal()
    return day, day


def date_matches(stored: str | None, searched: str) -> bool:
    """Whether a stored date matches a search value with its prefix (``ge1970-02``)."""
    if stored is None:
        return False
    prefix, value = searched[:2], searched[2:]
    low, high = day_range(stored)
    s_low, s_high = day_range(value)
    contained = s_low <= low and high <= s_high
    return {
        "eq": contained,
        "ne": not contained,
        "gt": high > s_high,
        "lt": low < s_low,
        "ge": high > s_high or contained,
        "le": low < s_low or contained,
        "sa": low > s_high,
        "eb": high < s_low,
    }[prefix]
