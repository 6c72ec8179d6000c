"""Instance, type and system history with _since, _count and paging."""

from __future__ import annotations

import httpx

from tests.conftest import without_audit


async def _make(client: httpx.AsyncClient, resource_type: str, count: int) -> list[str]:
    ids = []
    for number in range(count):
        body = {"resourceType": resource_type, "id": f"{resource_type.lower()}-{number}"}
        if resource_type == "Patient":
            body["active"] = True
        response = await client.put(f"/{resource_type}/{body['id']}", json=body)
        ids.append(response.json()["id"])
    return ids


async def test_instance_history_lists_versions_newest_first(client: httpx.AsyncClient) -> None:
    await client.put("/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    await client.put("/Patient/p1", json={"resourceType": "Patient", "id": "p1", "active": True})
    bundle = (await client.get("/Patient/p1/_history")).json()
    assert bundle["type"] == "history"
    assert [e["resource"]["meta"]["versionId"] for e in bundle["entry"]] == ["2", "1"]
    assert bundle["entry"][1]["response"]["status"] == "201 Created"


async def test_history_of_an_unknown_resource_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient/nobody/_history")
    assert response.status_code == 404


async def test_type_and_system_history(client: httpx.AsyncClient) -> None:
    await _make(client, "Patient", 3)
    await _make(client, "Organization", 2)
    patients = (await client.get("/Patient/_history")).json()
    assert len(patients["entry"]) == 3
    everything = (await client.get("/_history")).json()
    assert len(without_audit(everything)) == 5


async def test_history_pages_with_count_and_next_links(client: httpx.AsyncClient) -> None:
    await _make(client, "Patient", 7)
    seen: list[str] = []
    url: str | None = "/Patient/_history?_count=3"
    pages = 0
    while url:
        bundle = (await client.get(url)).json()
        pages += 1
        seen.extend(e["resource"]["id"] for e in bundle["entry"])
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    assert pages == 3
    assert sorted(seen) == sorted(f"patient-{n}" for n in range(7))


async def test_history_since_leaves_out_older_versions(client: httpx.AsyncClient) -> None:
    await _make(client, "Patient", 2)
    latest = (await client.get("/Patient/patient-1")).json()["meta"]["lastUpdated"]
    bundle = (await client.get("/Patient/_history", params={"_since": latest})).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["patient-1"]
