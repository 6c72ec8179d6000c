"""Batch and transaction Bundles."""

from __future__ import annotations

import httpx

from tests.conftest import table_row_counts

SYSTEM = "https://bora.dopa.go.th/citizen-id"
PATIENT_URN = "urn:uuid:8d1c3a52-0000-4000-8000-000000000002"


async def _count(client: httpx.AsyncClient, resource_type: str) -> int:
    bundle = (await client.get(f"/{resource_type}", params={"_summary": "count"})).json()
    return int(bundle["total"])


async def test_transaction_resolves_urn_uuid_references(client: httpx.AsyncClient) -> None:
    bundle = {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:8d1c3a52-0000-4000-8000-000000000001",
             "resource": {"resourceType": "Observation", "status": "final",
                          "code": {"text": "weight"},
                          "subject": {"reference": PATIENT_URN}},
             "request": {"method": "POST", "url": "Observation"}},
            {"fullUrl": PATIENT_URN,
             "resource": {"resourceType": "Patient", "active": True},
             "request": {"method": "POST", "url": "Patient"}},
        ],
    }
    response = await client.post("", json=bundle)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["201 Created", "201 Created"]
    observation = result["entry"][0]["resource"]
    patient_id = result["entry"][1]["resource"]["id"]
    assert observation["subject"]["reference"] == f"Patient/{patient_id}"


async def test_transaction_is_all_or_nothing(client: httpx.AsyncClient) -> None:
    bundle = {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"resource": {"resourceType": "Patient", "active": True},
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Patient", "gender": 12},
             "request": {"method": "POST", "url": "Patient"}},
        ],
    }
    response = await client.post("", json=bundle)
    assert response.status_code == 400
    diagnostics = response.json()["issue"][0]["diagnostics"]
    assert "Bundle.entry[1]" in diagnostics
    assert await table_row_counts(client) == {}


async def test_transaction_runs_deletes_before_creates(client: httpx.AsyncClient) -> None:
    await client.put("/Patient/old", json={"resourceType": "Patient", "id": "old"})
    bundle = {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"request": {"method": "GET", "url": "Patient/old"}},
            {"resource": {"resourceType": "Patient", "active": True},
             "request": {"method": "POST", "url": "Patient"}},
            {"request": {"method": "DELETE", "url": "Patient/old"}},
        ],
    }
    result = (await client.post("", json=bundle)).json()
    # The GET runs last, so it sees the deletion.
    assert result["entry"][0]["response"]["status"].startswith("410")


async def test_transaction_resolves_conditional_references_and_creates(
    client: httpx.AsyncClient,
) -> None:
    await client.put("/Patient/somchai", json={
        "resourceType": "Patient", "id": "somchai",
        "identifier": [{"system": SYSTEM, "value": "3100600012345"}]})
    bundle = {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:11111111-0000-4000-8000-000000000001",
             "resource": {"resourceType": "Patient",
                          "identifier": [{"system": SYSTEM, "value": "3100600012345"}]},
             "request": {"method": "POST", "url": "Patient",
                         "ifNoneExist": f"identifier={SYSTEM}|3100600012345"}},
            {"resource": {"resourceType": "Observation", "status": "final",
                          "code": {"text": "blood pressure"},
                          "subject": {"reference": f"Patient?identifier={SYSTEM}|3100600012345"}},
             "request": {"method": "POST", "url": "Observation"}},
        ],
    }
    result = (await client.post("", json=bundle)).json()
    assert result["entry"][0]["response"]["status"] == "200 OK"
    assert result["entry"][1]["resource"]["subject"]["reference"] == "Patient/somchai"


async def test_conditional_reference_matching_nothing_fails_the_transaction(
    client: httpx.AsyncClient,
) -> None:
    bundle = {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [{"resource": {"resourceType": "Observation", "status": "final",
                                "code": {"text": "x"},
                                "subject": {"reference": f"Patient?identifier={SYSTEM}|0"}},
                   "request": {"method": "POST", "url": "Observation"}}],
    }
    response = await client.post("", json=bundle)
    assert response.status_code == 412
    assert "matched no Patient" in response.json()["issue"][0]["diagnostics"]
    assert await _count(client, "Observation") == 0


async def test_batch_entries_succeed_or_fail_on_their_own(client: httpx.AsyncClient) -> None:
    bundle = {
        "resourceType": "Bundle", "type": "batch",
        "entry": [
            {"resource": {"resourceType": "Patient", "active": True},
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Patient", "active": "yes"},
             "request": {"method": "POST", "url": "Patient"}},
            {"request": {"method": "GET", "url": "Patient/missing"}},
        ],
    }
    response = await client.post("", json=bundle)
    assert response.status_code == 200
    result = response.json()
    assert result["type"] == "batch-response"
    statuses = [e["response"]["status"][:3] for e in result["entry"]]
    assert statuses == ["201", "400", "404"]
    assert result["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert await _count(client, "Patient") == 1


async def test_a_transaction_may_not_change_one_resource_twice(client: httpx.AsyncClient) -> None:
    entry = {"resource": {"resourceType": "Patient", "id": "twice"},
             "request": {"method": "PUT", "url": "Patient/twice"}}
    response = await client.post("", json={"resourceType": "Bundle", "type": "transaction",
                                           "entry": [entry, entry]})
    assert response.status_code == 400
    assert await _count(client, "Patient") == 0


async def test_other_bundle_types_are_refused_at_the_base(client: httpx.AsyncClient) -> None:
    response = await client.post("", json={"resourceType": "Bundle", "type": "collection"})
    assert response.status_code == 400
    assert "batch" in response.json()["issue"][0]["diagnostics"]
