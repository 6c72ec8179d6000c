"""The searches mor answers today: parameter types, common modifiers and paging."""

from __future__ import annotations

import httpx

from tests.api.searching import ids as _search_ids
from tests.api.searching import put as _put

CID = "https://bora.dopa.go.th/citizen-id"


async def _ids(client: httpx.AsyncClient, path: str, **params: str) -> set[str]:
    return await _search_ids(client, path, params)


async def _city(client: httpx.AsyncClient) -> None:
    await _put(client, {"resourceType": "Patient", "id": "somchai", "gender": "male",
                        "birthDate": "1980-04-01",
                        "identifier": [{"system": CID, "value": "1101700203451"}],
                        "name": [{"family": "ใจดี", "given": ["สมชาย"]}]})
    await _put(client, {"resourceType": "Patient", "id": "jose", "gender": "female",
                        "birthDate": "1992-11",
                        "name": [{"family": "José", "given": ["María"]}]})
    await _put(client, {"resourceType": "Patient", "id": "unknown",
                        "name": [{"family": "Phommachanh"}]})
    await _put(client, {"resourceType": "Observation", "id": "bp", "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
                        "subject": {"reference": "Patient/somchai"},
                        "effectiveDateTime": "2026-11-20T09:05:00+07:00"})
    await _put(client, {"resourceType": "ValueSet", "id": "vs", "status": "active",
                        "url": "http://mor.example/fhir/ValueSet/formulary"})


async def test_string_search_is_prefix_case_and_accent_insensitive(
    client: httpx.AsyncClient,
) -> None:
    await _city(client)
    assert await _ids(client, "/Patient", family="jose") == {"jose"}
    assert await _ids(client, "/Patient", family="JOS") == {"jose"}
    assert await _ids(client, "/Patient", family="ใจ") == {"somchai"}
    assert await _ids(client, "/Patient", **{"family:exact": "Jose"}) == set()
    assert await _ids(client, "/Patient", **{"family:exact": "José"}) == {"jose"}
    assert await _ids(client, "/Patient", **{"name:contains": "mmach"}) == {"unknown"}


async def test_token_forms_and_not(client: httpx.AsyncClient) -> None:
    await _city(client)
    assert await _ids(client, "/Patient", identifier=f"{CID}|1101700203451") == {"somchai"}
    assert await _ids(client, "/Patient", identifier="1101700203451") == {"somchai"}
    assert await _ids(client, "/Patient", identifier=f"{CID}|") == {"somchai"}
    assert await _ids(client, "/Patient", gender="male,female") == {"somchai", "jose"}
    # :not also matches resources that have no gender at all.
    assert await _ids(client, "/Patient", **{"gender:not": "male"}) == {"jose", "unknown"}


async def test_reference_forms(client: httpx.AsyncClient) -> None:
    await _city(client)
    assert await _ids(client, "/Observation", subject="Patient/somchai") == {"bp"}
    assert await _ids(client, "/Observation", patient="somchai") == {"bp"}
    assert await _ids(client, "/Observation", **{"subject:Patient": "somchai"}) == {"bp"}
    assert await _ids(client, "/Observation", **{"subject:Group": "somchai"}) == set()


async def test_dates_match_by_precision_and_prefix(client: httpx.AsyncClient) -> None:
    await _city(client)
    assert await _ids(client, "/Patient", birthdate="1980") == {"somchai"}
    assert await _ids(client, "/Patient", birthdate="1992-11") == {"jose"}
    assert await _ids(client, "/Patient", birthdate="ge1990") == {"jose"}
    assert await _ids(client, "/Patient", birthdate="lt1990-01-01") == {"somchai"}
    # 09:05 in Bangkok is 02:05 UTC.
    assert await _ids(client, "/Observation", date="2026-11-20T02:05:00Z") == {"bp"}


async def test_uri_below_and_above(client: httpx.AsyncClient) -> None:
    await _city(client)
    assert await _ids(client, "/ValueSet", **{"url:below": "http://mor.example/fhir"}) == {"vs"}
    above = "http://mor.example/fhir/ValueSet/formulary/extra"
    assert await _ids(client, "/ValueSet", **{"url:above": above}) == {"vs"}
    assert await _ids(client, "/ValueSet", url="http://mor.example/fhir/ValueSet/formulary") == {
        "vs"}


async def test_missing(client: httpx.AsyncClient) -> None:
    await _city(client)
    assert await _ids(client, "/Patient", **{"gender:missing": "true"}) == {"unknown"}
    assert await _ids(client, "/Patient", **{"gender:missing": "false"}) == {"somchai", "jose"}


async def test_paging_follows_next_links_without_repeats(client: httpx.AsyncClient) -> None:
    for number in range(7):
        await _put(client, {"resourceType": "Patient", "id": f"p{number}", "active": True})
    seen: list[str] = []
    url: str | None = "/Patient?active=true&_count=3"
    while url:
        bundle = (await client.get(url)).json()
        seen.extend(e["resource"]["id"] for e in bundle["entry"])
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    assert sorted(seen) == [f"p{n}" for n in range(7)]


async def test_search_by_post(client: httpx.AsyncClient) -> None:
    await _city(client)
    response = await client.post("/Patient/_search", data={"gender": "female"})
    assert response.status_code == 200
    assert [e["resource"]["id"] for e in response.json()["entry"]] == ["jose"]


async def test_paging_counts_a_resource_once_however_many_of_its_values_match(
    client: httpx.AsyncClient,
) -> None:
    # Each observation carries the code twice (two codings), so the index holds two
    # matching rows for it; a page must still hold _count distinct resources, and a
    # deleted or changed one must not appear.
    code = {"coding": [{"system": "http://loinc.org", "code": "2339-0"},
                       {"system": "http://loinc.org", "code": "2339-0", "display": "Glucose"}]}
    for number in range(9):
        await _put(client, {"resourceType": "Observation", "id": f"g{number}",
                            "status": "final", "code": code})
    await client.delete("/Observation/g4")
    await _put(client, {"resourceType": "Observation", "id": "g7", "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]}})
    pages: list[list[str]] = []
    url: str | None = "/Observation?code=http://loinc.org|2339-0&_count=3"
    while url:
        bundle = (await client.get(url)).json()
        pages.append([e["resource"]["id"] for e in bundle.get("entry", [])])
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    assert pages == [["g0", "g1", "g2"], ["g3", "g5", "g6"], ["g8"]]
