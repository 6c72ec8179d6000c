"""Bulk data import ($import, "ping and pull") against mor running in a real server
process, whose background worker downloads the NDJSON files from a real HTTP server
started here: kick-off, polling, the result, rejected lines, unreachable files, bad
kick-offs and who may import."""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from mor.auth.roles import Role
from mor.config import Settings
from mor.db.engine import create_engine
from tests.auth.people import person_token
from tests.conftest import backend_token

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test output is no place for the file server's access log


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on 127.0.0.1, and its URL."""
    directory = tmp_path_factory.mktemp("sources")
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield directory, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http(live_server: str, live_headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=live_server, timeout=30, headers=live_headers)


def _serve(files: tuple[Path, str], lines: list[str]) -> str:
    """An NDJSON file of these lines, served; its URL."""
    directory, base = files
    name = f"{uuid.uuid4().hex[:8]}.ndjson"
    (directory / name).write_text("".join(line + "\n" for line in lines))
    return f"{base}/{name}"


def _kickoff_body(*inputs: tuple[str, str]) -> dict[str, Any]:
    return {"inputFormat": "application/fhir+ndjson", "inputSource": "https://source.example",
            "input": [{"type": t, "url": u} for t, u in inputs]}


def _import(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    kickoff = http.post("/$import", json=body, headers=ASYNC)
    assert kickoff.status_code == 202, kickoff.text
    status_url = kickoff.headers["Content-Location"]
    assert "/$import-status/" in status_url
    deadline = time.monotonic() + 20
    while True:
        status = http.get(status_url)
        if status.status_code == 200:
            result: dict[str, Any] = status.json()
            return result
        assert status.status_code == 202, status.text
        assert status.headers.get("X-Progress")
        assert time.monotonic() < deadline, "the import did not finish within 20 s"
        time.sleep(0.2)


def _patient(patient_id: str, **more: Any) -> str:
    return json.dumps({"resourceType": "Patient", "id": patient_id, **more})


def test_round_trip_loads_the_files(http: httpx.Client, files: tuple[Path, str]) -> None:
    run = uuid.uuid4().hex[:8]
    patients = _serve(files, [_patient(f"p{i}-{run}", gender="female") for i in range(3)])
    observations = _serve(files, [json.dumps({
        "resourceType": "Observation", "id": f"o-{run}", "status": "final",
        "code": {"text": "weight"}, "subject": {"reference": f"Patient/p0-{run}"}})])
    result = _import(http, _kickoff_body(("Patient", patients),
                                         ("Observation", observations)))
    assert result["request"].endswith("/$import")
    assert result["transactionTime"]
    assert result["output"] == [
        {"type": "OperationOutcome", "inputUrl": patients, "count": 3},
        {"type": "OperationOutcome", "inputUrl": observations, "count": 1}]
    assert result["error"] == []
    found = http.get("/Patient", params={"_id": ",".join(f"p{i}-{run}" for i in range(3))})
    assert {e["resource"]["id"] for e in found.json()["entry"]} == {
        f"p{i}-{run}" for i in range(3)}
    searched = http.get("/Observation", params={"subject": f"Patient/p0-{run}"}).json()
    assert [e["resource"]["id"] for e in searched["entry"]] == [f"o-{run}"]


def test_kick_off_as_parameters(http: httpx.Client, files: tuple[Path, str]) -> None:
    run = uuid.uuid4().hex[:8]
    url = _serve(files, [_patient(f"param-{run}")])
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "inputFormat", "valueCode": "application/fhir+ndjson"},
        {"name": "inputSource", "valueUri": "https://source.example"},
        {"name": "input", "part": [{"name": "type", "valueCode": "Patient"},
                                   {"name": "url", "valueUrl": url}]}]}
    assert _import(http, body)["output"][0]["count"] == 1
    assert http.get(f"/Patient/param-{run}").status_code == 200


def test_a_bad_line_is_reported_and_the_rest_loaded(http: httpx.Client,
                                                    files: tuple[Path, str]) -> None:
    run = uuid.uuid4().hex[:8]
    url = _serve(files, [_patient(f"good1-{run}"),
                         _patient(f"bad-{run}", birthDate="not a date"),
                         _patient(f"good2-{run}"), "{not json",
                         json.dumps({"resourceType": "Observation", "id": f"stray-{run}",
                                     "status": "final", "code": {"text": "weight"}})])
    result = _import(http, _kickoff_body(("Patient", url)))
    assert result["output"] == [{"type": "OperationOutcome", "inputUrl": url, "count": 2}]
    [error] = result["error"]
    assert error["inputUrl"] == url and error["count"] == 3
    outcome = error["outcome"]
    assert outcome["resourceType"] == "OperationOutcome"
    diagnostics = [issue["diagnostics"] for issue in outcome["issue"]]
    assert diagnostics[0].startswith("line 2: ") and "not a valid date" in diagnostics[0]
    assert diagnostics[1].startswith("line 4: not valid JSON")
    assert diagnostics[2] == "line 5: a resource of type Observation, in an input of type Patient"
    assert http.get(f"/Observation/stray-{run}").status_code == 404
    assert http.get(f"/Patient/good1-{run}").status_code == 200
    assert http.get(f"/Patient/good2-{run}").status_code == 200
    assert http.get(f"/Patient/bad-{run}").status_code == 404


def test_an_unreachable_input_is_reported(http: httpx.Client, files: tuple[Path, str]) -> None:
    run = uuid.uuid4().hex[:8]
    missing = f"{files[1]}/no-such-file-{run}.ndjson"
    with socket.socket() as closed:  # a port no one listens on: the connection is refused
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}/patients.ndjson"
    present = _serve(files, [_patient(f"after-{run}")])
    result = _import(http, _kickoff_body(("Patient", missing), ("Patient", refused),
                                         ("Patient", present)))
    assert [item["count"] for item in result["output"]] == [0, 0, 1]
    not_found, not_connected = result["error"]
    assert not_found["inputUrl"] == missing
    assert "answered 404" in not_found["outcome"]["issue"][0]["diagnostics"]
    assert not_connected["inputUrl"] == refused
    assert "Could not download" in not_connected["outcome"]["issue"][0]["diagnostics"]
    assert http.get(f"/Patient/after-{run}").status_code == 200


def test_cancelling_forgets_the_import(http: httpx.Client, files: tuple[Path, str]) -> None:
    url = _serve(files, [_patient(f"c-{uuid.uuid4().hex[:8]}")])
    kickoff = http.post("/$import", json=_kickoff_body(("Patient", url)), headers=ASYNC)
    status_url = kickoff.headers["Content-Location"]
    assert http.delete(status_url).status_code == 202
    gone = http.get(status_url)
    assert gone.status_code == 404
    assert gone.json()["resourceType"] == "OperationOutcome"


_GOOD = {"type": "Patient", "url": "http://127.0.0.1:9/patients.ndjson"}


@pytest.mark.parametrize(("body", "headers", "words"), [
    ({"inputFormat": "application/fhir+ndjson", "inputSource": "x", "input": [_GOOD]}, {},
     "respond-async"),
    ({"inputFormat": "application/fhir+ndjson", "inputSource": "x"}, ASYNC,
     "input is missing"),
    ({"inputFormat": "application/fhir+ndjson", "inputSource": "x", "input": []}, ASYNC,
     "input is missing"),
    ({"inputFormat": "text/csv", "inputSource": "x", "input": [_GOOD]}, ASYNC,
     "application/fhir+ndjson"),
    ({"inputSource": "x", "input": [_GOOD]}, ASYNC, "inputFormat is missing"),
    ({"inputFormat": "application/fhir+ndjson", "input": [_GOOD]}, ASYNC, "inputSource"),
    ({"inputFormat": "application/fhir+ndjson", "inputSource": "x",
      "input": [{"type": "Bogus", "url": _GOOD["url"]}]}, ASYNC,
     "'Bogus' is not a FHIR R4 resource type"),
    ({"inputFormat": "application/fhir+ndjson", "inputSource": "x",
      "input": [{"type": "AuditEvent", "url": _GOOD["url"]}]}, ASYNC,
     "AuditEvents cannot be imported"),
    ({"inputFormat": "application/fhir+ndjson", "inputSource": "x",
      "input": [{"type": "Patient", "url": "file:///etc/passwd"}]}, ASYNC,
     "http:// or https:// URLs only"),
    ({"inputFormat": "application/fhir+ndjson", "inputSource": "x",
      "input": [{"type": "Patient"}]}, ASYNC, "http:// or https:// URLs only"),
])
def test_kick_off_errors_are_explained(http: httpx.Client, body: dict[str, Any],
                                       headers: dict[str, str], words: str) -> None:
    response = http.post("/$import", json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert words in response.text


def test_unknown_job(http: httpx.Client) -> None:
    assert http.get("/$import-status/nothing").status_code == 404


@pytest.mark.parametrize("who", ["patient", "doctor", "read-only service"])
def test_only_backend_services_that_write_may_import(
    live_server: str, settings: Settings, files: tuple[Path, str], who: str,
) -> None:
    async def token() -> str:
        engine = create_engine(settings)
        try:
            name = f"{who.split()[0]}-{uuid.uuid4().hex[:8]}"
            if who == "patient":
                return await person_token(engine, name, Role.PATIENT, f"Patient/{name}",
                                          scope="patient/*.cruds")
            if who == "doctor":
                return await person_token(engine, name, Role.DOCTOR,
                                          f"Practitioner/{name}")
            return await backend_token(engine, "system/*.rs")
        finally:
            await engine.dispose()

    url = _serve(files, [_patient(f"x-{uuid.uuid4().hex[:8]}")])
    response = httpx.post(f"{live_server}/$import", json=_kickoff_body(("Patient", url)),
                          headers={**ASYNC, "Authorization": f"Bearer {asyncio.run(token())}"})
    assert response.status_code == 403, response.text
    assert "backend services" in response.text or "scopes" in response.text
