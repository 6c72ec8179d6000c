"""Create, read, update, delete and patch through the FHIR REST API."""

from __future__ import annotations

import httpx

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "https://bora.dopa.go.th/citizen-id", "value": "1101700203451"}],
    "name": [{"family": "ใจดี", "given": ["สมชาย"]}],
    "gender": "male",
    "birthDate": "1980-04-01",
}


async def test_create_assigns_id_version_and_location(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", json=PATIENT)
    assert response.status_code == 201
    body = response.json()
    assert body["id"]
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"] == (
        f"http://mor.test/fhir/Patient/{body['id']}/_history/1")
    assert response.headers["content-type"].startswith("application/fhir+json")


async def test_create_ignores_a_client_supplied_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", json={**PATIENT, "id": "chosen-by-client"})
    assert response.status_code == 201
    assert response.json()["id"] != "chosen-by-client"


async def test_read_returns_what_was_created(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    response = await client.get(f"/Patient/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["last-modified"].endswith("GMT")
    assert response.headers["content-location"].endswith(f"/Patient/{created['id']}/_history/1")


async def test_update_makes_a_new_version_and_vread_keeps_the_old(
    client: httpx.AsyncClient,
) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    changed = {**created, "gender": "other"}
    response = await client.put(f"/Patient/{created['id']}", json=changed)
    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2"
    assert response.headers["etag"] == 'W/"2"'
    old = await client.get(f"/Patient/{created['id']}/_history/1")
    assert old.status_code == 200
    assert old.json()["gender"] == "male"
    assert (await client.get(f"/Patient/{created['id']}")).json()["gender"] == "other"


async def test_update_with_no_change_keeps_the_version(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    response = await client.put(f"/Patient/{created['id']}", json=created)
    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "1"


async def test_update_as_create_keeps_the_client_id(client: httpx.AsyncClient) -> None:
    response = await client.put("/Patient/bkk-0001", json={**PATIENT, "id": "bkk-0001"})
    assert response.status_code == 201
    assert response.json()["id"] == "bkk-0001"
    assert (await client.get("/Patient/bkk-0001")).status_code == 200


async def test_delete_is_soft_and_history_keeps_the_versions(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    deleted = await client.delete(f"/Patient/{created['id']}")
    assert deleted.status_code == 200
    assert deleted.json()["resourceType"] == "OperationOutcome"
    assert deleted.headers["etag"] == 'W/"2"'
    gone = await client.get(f"/Patient/{created['id']}")
    assert gone.status_code == 410
    assert gone.json()["resourceType"] == "OperationOutcome"
    assert (await client.get(f"/Patient/{created['id']}/_history/1")).status_code == 200
    assert (await client.get(f"/Patient/{created['id']}/_history/2")).status_code == 410
    history = (await client.get(f"/Patient/{created['id']}/_history")).json()
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]


async def test_deleting_twice_or_a_missing_resource_is_harmless(
    client: httpx.AsyncClient,
) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    await client.delete(f"/Patient/{created['id']}")
    again = await client.delete(f"/Patient/{created['id']}")
    assert again.status_code == 200
    history = (await client.get(f"/Patient/{created['id']}/_history")).json()
    assert len(history["entry"]) == 2
    assert (await client.delete("/Patient/never-existed")).status_code == 200


async def test_update_after_delete_brings_the_resource_back(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    await client.delete(f"/Patient/{created['id']}")
    revived = await client.put(f"/Patient/{created['id']}", json=created)
    assert revived.status_code == 201
    assert revived.json()["meta"]["versionId"] == "3"


async def test_json_patch_changes_only_what_it_names(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    response = await client.patch(
        f"/Patient/{created['id']}",
        content=b'[{"op": "replace", "path": "/gender", "value": "female"},'
                b' {"op": "add", "path": "/active", "value": true}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["gender"] == "female"
    assert body["active"] is True
    assert body["name"] == PATIENT["name"]
    assert body["meta"]["versionId"] == "2"


async def test_prefer_return_minimal_sends_no_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", json=PATIENT, headers={"Prefer": "return=minimal"})
    assert response.status_code == 201
    assert response.content == b""
    assert response.headers["location"]


async def test_prefer_return_operation_outcome(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", json=PATIENT,
                                 headers={"Prefer": "return=OperationOutcome"})
    assert response.status_code == 201
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "version 1" in outcome["issue"][0]["diagnostics"]


async def test_pretty_and_format_parameters(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    pretty = await client.get(f"/Patient/{created['id']}", params={"_pretty": "true",
                                                                    "_format": "json"})
    assert pretty.status_code == 200
    assert pretty.text.startswith("{\n  ")
    assert pretty.json() == created


async def test_thai_text_survives_the_round_trip(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Patient", json=PATIENT)).json()
    read = (await client.get(f"/Patient/{created['id']}")).json()
    assert read["name"][0]["family"] == "ใจดี"
