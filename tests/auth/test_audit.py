"""Every access is recorded once as an AuditEvent, in the same transaction as a write,
before a read's answer leaves; patients see who looked at their record; no one can
change the record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from mor.auth.roles import Role
from tests.auth.people import person_token
from tests.conftest import ACCESS_TABLES, empty_database

BASE = "https://mor.test/fhir"


@pytest.fixture
async def http(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    engine = app.state.store.engine
    async with engine.begin() as conn:
        for table in ("account",):
            assert table in ACCESS_TABLES
            await conn.exec_driver_sql(f"DELETE FROM {table}")
    await empty_database(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=BASE) as http:
        yield http


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def audit_events(client: httpx.AsyncClient, query: str) -> list[dict[str, Any]]:
    bundle = (await client.get(f"/AuditEvent?{query}&_count=1000")).json()
    return [e["resource"] for e in bundle.get("entry", [])
            if e["resource"]["resourceType"] == "AuditEvent"]


async def test_each_access_is_recorded_once_with_who_what_and_whose(
    app: Starlette, client: httpx.AsyncClient, http: httpx.AsyncClient,
) -> None:
    for resource in (
        {"resourceType": "Organization", "id": "hc-1"},
        {"resourceType": "Practitioner", "id": "malee"},
        {"resourceType": "Patient", "id": "a",
         "managingOrganization": {"reference": "Organization/hc-1"}},
        {"resourceType": "Observation", "id": "o1", "status": "final",
         "code": {"text": "weight"}, "subject": {"reference": "Patient/a"}},
    ):
        assert (await client.put(f"/{resource['resourceType']}/{resource['id']}",
                                 json=resource)).status_code == 201
    doctor = as_(await person_token(app.state.store.engine, "dr.malee", Role.DOCTOR,
                                    "Practitioner/malee", ("hc-1",)))
    script = [
        ("GET", "/Patient/a", None, 200),
        ("GET", "/Observation?subject=Patient/a", None, 200),
        ("POST", "/Observation", {"resourceType": "Observation", "status": "final",
                                  "code": {"text": "height"},
                                  "subject": {"reference": "Patient/a"}}, 201),
        ("GET", "/Patient/not-there", None, 404),
        ("GET", "/Patient/a/_history", None, 200),
    ]
    created = ""
    for method, url, body, status in script:
        response = await http.request(method, url, json=body, headers=doctor)
        assert response.status_code == status, response.text
        if method == "POST":
            created = response.json()["id"]
    response = await http.delete(f"/Observation/{created}", headers=doctor)
    assert response.status_code == 200

    events = await audit_events(client, "agent=Practitioner/malee&_sort=date")
    assert [(e["subtype"][0]["code"], e["action"], e["outcome"]) for e in events] == [
        ("read", "R", "0"), ("search-type", "E", "0"), ("create", "C", "0"),
        ("read", "R", "4"), ("history-instance", "R", "0"), ("delete", "D", "0")]
    read, search, create, missing, _, delete = events
    assert read["agent"][0]["who"] == {"reference": "Practitioner/malee",
                                       "display": "dr.malee"}
    assert read["agent"][0]["network"]["type"] == "2"
    assert {"reference": "Patient/a"} in [e["what"] for e in read["entity"]]
    assert {e["what"]["reference"] for e in search["entity"] if "what" in e} == {
        "Patient/a", "Observation/o1"}
    assert any("query" in e for e in search["entity"])
    assert {e["what"]["reference"] for e in create["entity"]} == {
        "Patient/a", f"Observation/{created}"}
    assert "does not exist" in missing["outcomeDesc"]
    assert {e["what"]["reference"] for e in delete["entity"]} == {
        "Patient/a", f"Observation/{created}"}


async def test_a_patient_sees_who_accessed_their_record(
    app: Starlette, client: httpx.AsyncClient, http: httpx.AsyncClient,
) -> None:
    for resource in ({"resourceType": "Patient", "id": "a",
                      "managingOrganization": {"reference": "Organization/hc-1"}},
                     {"resourceType": "Patient", "id": "b",
                      "managingOrganization": {"reference": "Organization/hc-1"}}):
        await client.put(f"/Patient/{resource['id']}", json=resource)
    doctor = as_(await person_token(app.state.store.engine, "dr.malee", Role.DOCTOR,
                                    "Practitioner/malee", ("hc-1",)))
    assert (await http.get("/Patient/a", headers=doctor)).status_code == 200
    assert (await http.get("/Patient/b", headers=doctor)).status_code == 200
    patient = as_(await person_token(app.state.store.engine, "somsri", Role.PATIENT,
                                     "Patient/a"))
    bundle = (await http.get("/AuditEvent", headers=patient)).json()
    who = [e["resource"]["agent"][0]["who"].get("reference")
           for e in bundle["entry"]]
    # The doctor's read of a's record, and nothing about b.
    assert "Practitioner/malee" in who
    for entry in bundle["entry"]:
        patients = {x["what"]["reference"] for x in entry["resource"].get("entity", [])
                    if "what" in x}
        assert "Patient/b" not in patients


async def test_no_one_changes_or_deletes_an_audit_record(
    app: Starlette, client: httpx.AsyncClient, http: httpx.AsyncClient,
) -> None:
    await client.put("/Patient/a", json={"resourceType": "Patient", "id": "a"})
    event = (await audit_events(client, "entity=Patient/a"))[0]
    for method, url, body in [
        ("PUT", f"/AuditEvent/{event['id']}", {**event, "outcome": "0"}),
        ("DELETE", f"/AuditEvent/{event['id']}", None),
        ("PATCH", f"/AuditEvent/{event['id']}", None),
    ]:
        headers = {"Content-Type": "application/json-patch+json"} if method == "PATCH" else {}
        response = await client.request(method, url, json=body if method != "PATCH" else
                                        [{"op": "replace", "path": "/outcome", "value": "0"}],
                                        headers=headers)
        assert response.status_code == 403, (method, response.text)
    assert (await client.get(f"/AuditEvent/{event['id']}")).json()["meta"]["versionId"] == "1"


async def test_bulk_export_and_import_requests_are_recorded_refused_ones_too(
    app: Starlette, client: httpx.AsyncClient, http: httpx.AsyncClient,
) -> None:
    exported = await client.get("/$export", params={"_type": "Patient"},
                                headers={"Prefer": "respond-async"})
    assert exported.status_code == 202
    doctor = await person_token(app.state.store.engine, "dr.bulk", Role.DOCTOR,
                                "Practitioner/bulk")
    refused = await http.post("/$import", headers={**as_(doctor), "Prefer": "respond-async"},
                              json={"inputFormat": "application/fhir+ndjson"})
    assert refused.status_code == 403
    events = await audit_events(client, "subtype=operation")
    by_outcome = {(e["outcome"], e["agent"][0]["who"].get("reference")
                   or e["agent"][0]["who"]["identifier"]["system"]) for e in events}
    assert ("0", "urn:ietf:params:oauth:client-id") in by_outcome  # the service's export
    assert ("4", "Practitioner/bulk") in by_outcome  # the doctor's refused import
    refusal = next(e for e in events if e["outcome"] == "4")
    assert "backend services" in refusal["outcomeDesc"]
