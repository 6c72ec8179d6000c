"""ETags, If-Match and conditional create/update/delete."""

from __future__ import annotations

import httpx

SYSTEM = "https://bora.dopa.go.th/citizen-id"


def patient(citizen_id: str, **extra: object) -> dict[str, object]:
    return {"resourceType": "Patient",
            "identifier": [{"system": SYSTEM, "value": citizen_id}], **extra}


async def test_if_match_with_the_current_version_updates(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("1"))).json()
    response = await client.put(f"/Patient/{created['id']}", json={**created, "active": True},
                                headers={"If-Match": 'W/"1"'})
    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"2"'


async def test_if_match_with_a_stale_version_is_refused(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("1"))).json()
    await client.put(f"/Patient/{created['id']}", json={**created, "active": True})
    stale = await client.put(f"/Patient/{created['id']}", json={**created, "active": False},
                             headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert "version 2" in stale.json()["issue"][0]["diagnostics"]
    current = (await client.get(f"/Patient/{created['id']}")).json()
    assert current["active"] is True
    assert current["meta"]["versionId"] == "2"


async def test_if_match_applies_to_delete_and_patch(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("1"))).json()
    patch = await client.patch(
        f"/Patient/{created['id']}", headers={"If-Match": 'W/"9"',
                                              "Content-Type": "application/json-patch+json"},
        content=b'[{"op": "add", "path": "/active", "value": true}]')
    assert patch.status_code == 412
    delete = await client.delete(f"/Patient/{created['id']}", headers={"If-Match": 'W/"9"'})
    assert delete.status_code == 412
    assert (await client.get(f"/Patient/{created['id']}")).status_code == 200


async def test_conditional_create_returns_the_existing_match(client: httpx.AsyncClient) -> None:
    first = await client.post("/Patient", json=patient("42"),
                              headers={"If-None-Exist": f"identifier={SYSTEM}|42"})
    assert first.status_code == 201
    second = await client.post("/Patient", json=patient("42"),
                               headers={"If-None-Exist": f"identifier={SYSTEM}|42"})
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    bundle = (await client.get("/Patient", params={"identifier": f"{SYSTEM}|42"})).json()
    assert len(bundle["entry"]) == 1


async def test_conditional_create_with_several_matches_is_refused(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/Patient", json=patient("7", gender="male"))
    await client.post("/Patient", json=patient("8", gender="male"))
    response = await client.post("/Patient", json=patient("9", gender="male"),
                                 headers={"If-None-Exist": "gender=male"})
    assert response.status_code == 412
    assert "more than one" in response.json()["issue"][0]["diagnostics"]


async def test_conditional_update_creates_then_updates(client: httpx.AsyncClient) -> None:
    url = f"/Patient?identifier={SYSTEM}|77"
    created = await client.put(url, json=patient("77", active=True))
    assert created.status_code == 201
    updated = await client.put(url, json=patient("77", active=False))
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["meta"]["versionId"] == "2"


async def test_conditional_delete_removes_the_single_match(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("55"))).json()
    response = await client.delete("/Patient", params={"identifier": f"{SYSTEM}|55"})
    assert response.status_code == 200
    assert (await client.get(f"/Patient/{created['id']}")).status_code == 410


async def test_conditional_patch(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=patient("66"))).json()
    response = await client.patch(
        "/Patient", params={"identifier": f"{SYSTEM}|66"},
        headers={"Content-Type": "application/json-patch+json"},
        content=b'[{"op": "add", "path": "/active", "value": true}]')
    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert response.json()["active"] is True
