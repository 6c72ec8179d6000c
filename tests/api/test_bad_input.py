"""Every kind of bad request gets a 4xx OperationOutcome and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from mor.api.app import create_app
from mor.config import Settings
from tests.conftest import auth_headers, table_row_counts, without_audit


async def _nothing_written(client: httpx.AsyncClient) -> None:
    """No resource, version or search-index row exists."""
    history = (await client.get("/_history")).json()
    assert without_audit(history) == []
    assert await table_row_counts(client) == {}


def _diagnostics(response: httpx.Response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return " ".join(issue["diagnostics"] for issue in body["issue"])


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "needs a body"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"gender": "male"}', 400, "resourceType"),
        (b'{"resourceType": "Patient", "gender": 5}', 400, "gender"),
        (b'{"resourceType": "Patient", "birthdate": "1990-01-01"}', 400, "birthDate"),
        (b'{"resourceType": "Patient", "birthDate": "01/02/1990"}', 400, "birthDate"),
        (b'{"resourceType": "Observation", "code": {"text": "x"}}', 400, "status"),
        (b'{"resourceType": "Organization"}', 400, "Organization"),
    ],
)
async def test_bad_bodies_are_refused_with_a_reason(
    client: httpx.AsyncClient, body: bytes, status: int, says: str
) -> None:
    path = "/Observation" if b"Observation" in body else "/Patient"
    response = await client.post(path, content=body,
                                 headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == status
    assert says in _diagnostics(response)
    await _nothing_written(client)


async def test_unknown_resource_type(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patiant", json={"resourceType": "Patiant"})
    assert response.status_code == 404
    assert "Patiant" in _diagnostics(response)
    assert (await client.get("/Patiant/1")).status_code == 404
    await _nothing_written(client)


async def test_invalid_ids(client: httpx.AsyncClient) -> None:
    response = await client.put("/Patient/bad_id!", json={"resourceType": "Patient",
                                                          "id": "bad_id!"})
    assert response.status_code == 400
    assert "not a valid FHIR id" in _diagnostics(response)
    too_long = "x" * 65
    response = await client.put(f"/Patient/{too_long}",
                                json={"resourceType": "Patient", "id": too_long})
    assert response.status_code == 400
    await _nothing_written(client)


async def test_put_with_mismatched_or_missing_id(client: httpx.AsyncClient) -> None:
    mismatch = await client.put("/Patient/a", json={"resourceType": "Patient", "id": "b"})
    assert mismatch.status_code == 400
    assert "differs" in _diagnostics(mismatch)
    missing = await client.put("/Patient/a", json={"resourceType": "Patient"})
    assert missing.status_code == 400
    await _nothing_written(client)


async def test_body_of_the_wrong_type_for_the_url(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", json={"resourceType": "Observation"})
    assert response.status_code == 400
    assert "/Observation" in _diagnostics(response)
    await _nothing_written(client)


async def test_body_over_the_size_limit(client: httpx.AsyncClient, settings: Settings) -> None:
    small_limit = create_app(replace(settings, max_body_bytes=10_000))
    transport = httpx.ASGITransport(app=small_limit)
    async with httpx.AsyncClient(transport=transport, base_url="http://mor.test/fhir",
                                 headers=auth_headers(client)) as small:
        big = {"resourceType": "Patient", "name": [{"text": "x" * 20_000}]}
        response = await small.post("/Patient", json=big)
        assert response.status_code == 413
        assert "MOR_MAX_BODY_BYTES" in _diagnostics(response)
        async def stream() -> AsyncIterator[bytes]:
            yield b"{" + b" " * 20_000 + b"}"

        chunked = await small.post("/Patient", content=stream(),
                                   headers={"Content-Type": "application/fhir+json"})
        assert chunked.status_code == 413
    await small_limit.state.store.engine.dispose()
    await _nothing_written(client)


async def test_unsupported_content_types(client: httpx.AsyncClient) -> None:
    xml = await client.post("/Patient", content=b"<Patient/>",
                            headers={"Content-Type": "application/fhir+xml"})
    assert xml.status_code == 415
    text = await client.post("/Patient", content=b"hello", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    await _nothing_written(client)


async def test_xml_is_not_acceptable(client: httpx.AsyncClient) -> None:
    response = await client.get("/metadata", params={"_format": "xml"})
    assert response.status_code == 406
    response = await client.get("/metadata", headers={"Accept": "application/fhir+xml"})
    assert response.status_code == 406


async def test_bad_json_patch(client: httpx.AsyncClient) -> None:
    await client.put("/Patient/p", json={"resourceType": "Patient", "id": "p"})
    headers = {"Content-Type": "application/json-patch+json"}
    bad_path = await client.patch("/Patient/p", headers=headers,
                                  content=b'[{"op": "remove", "path": "/nothing"}]')
    assert bad_path.status_code == 400
    invalid_result = await client.patch(
        "/Patient/p", headers=headers,
        content=b'[{"op": "add", "path": "/gender", "value": 3}]')
    assert invalid_result.status_code == 400
    change_id = await client.patch("/Patient/p", headers=headers,
                                   content=b'[{"op": "replace", "path": "/id", "value": "q"}]')
    assert change_id.status_code == 400
    failed_test = await client.patch(
        "/Patient/p", headers=headers,
        content=b'[{"op": "test", "path": "/active", "value": true}]')
    assert failed_test.status_code == 422
    history = (await client.get("/Patient/p/_history")).json()
    assert len(history["entry"]) == 1


async def test_bad_if_match_and_version(client: httpx.AsyncClient) -> None:
    await client.put("/Patient/p", json={"resourceType": "Patient", "id": "p"})
    response = await client.put("/Patient/p", json={"resourceType": "Patient", "id": "p",
                                                    "active": True},
                                headers={"If-Match": "yesterday"})
    assert response.status_code == 400
    assert (await client.get("/Patient/p/_history/abc")).status_code == 400
    assert (await client.get("/Patient/p/_history/9")).status_code == 404


async def test_bad_search_and_history_parameters(client: httpx.AsyncClient) -> None:
    assert (await client.get("/Patient", params={"birthdate": "yesterday"})).status_code == 400
    assert (await client.get("/Patient", params={"_count": "many"})).status_code == 400
    assert (await client.get("/_history", params={"_since": "last week"})).status_code == 400
    strict = await client.get("/Patient", params={"shoe-size": "42"},
                              headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    assert "shoe-size" in _diagnostics(strict)


async def test_lenient_search_reports_ignored_parameters(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient", params={"shoe-size": "42"})
    assert response.status_code == 200
    bundle = response.json()
    assert "shoe-size" not in bundle["link"][0]["url"]
    outcome = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert "shoe-size" in outcome[0]["resource"]["issue"][0]["diagnostics"]


async def test_wrong_methods(client: httpx.AsyncClient) -> None:
    assert (await client.delete("")).status_code == 405
    assert (await client.post("/metadata", json={})).status_code == 405
    assert (await client.put("/Patient/_history", json={})).status_code == 405


async def test_unsupported_operations_are_named(client: httpx.AsyncClient) -> None:
    response = await client.post("/ValueSet/$lookup", json={"resourceType": "Parameters"})
    assert response.status_code == 400
    assert "$lookup is not supported" in _diagnostics(response)


async def test_an_internal_error_is_an_operation_outcome_without_internals(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("mor.api.http_fhir.dispatch", broken)
    response = await client.get("/Patient/x")
    assert response.status_code == 500
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert "internal error" in _diagnostics(response)
