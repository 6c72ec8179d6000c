"""Bulk data export ($export) against mor running in a real server process, whose
background worker writes the files: kick-off, polling, the manifest, NDJSON files,
the three levels, _type and _since, cancellation and errors."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


@pytest.fixture
def http(live_server: str, live_headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=live_server, timeout=30, headers=live_headers)


def _put(http: httpx.Client, resource: dict[str, Any]) -> str:
    response = http.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code in (200, 201), response.text
    return str(response.json()["meta"]["lastUpdated"])


def _family(http: httpx.Client) -> dict[str, str]:
    """Two patients with an observation each, a doctor, and a group of one patient."""
    run = uuid.uuid4().hex[:8]
    ids = {"a": f"a-{run}", "b": f"b-{run}", "doctor": f"dr-{run}", "group": f"g-{run}"}
    _put(http, {"resourceType": "Practitioner", "id": ids["doctor"]})
    for key in ("a", "b"):
        _put(http, {"resourceType": "Patient", "id": ids[key],
                    "generalPractitioner": [{"reference": f"Practitioner/{ids['doctor']}"}]})
        _put(http, {"resourceType": "Observation", "id": f"obs-{ids[key]}", "status": "final",
                    "code": {"text": "weight"},
                    "subject": {"reference": f"Patient/{ids[key]}"}})
    _put(http, {"resourceType": "Group", "id": ids["group"], "type": "person", "actual": True,
                "member": [{"entity": {"reference": f"Patient/{ids['a']}"}}]})
    return ids


def _export(http: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    kickoff = http.get(path, params=params, headers=ASYNC)
    assert kickoff.status_code == 202, kickoff.text
    status_url = kickoff.headers["Content-Location"]
    deadline = time.monotonic() + 60
    while True:
        status = http.get(status_url)
        if status.status_code == 200:
            manifest: dict[str, Any] = status.json()
            manifest["status_url"] = status_url
            return manifest
        assert status.status_code == 202, status.text
        assert time.monotonic() < deadline, "the export did not finish within a minute"
        time.sleep(0.2)


def _files(http: httpx.Client, manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in manifest["output"]:
        response = http.get(item["url"])
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert len(lines) == item["count"]
        assert all(r["resourceType"] == item["type"] for r in lines)
        found[item["type"]] = lines
    return found


def _ids(resources: list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in resources}


def test_system_export_of_chosen_types(http: httpx.Client) -> None:
    ids = _family(http)
    manifest = _export(http, "/$export", _type="Patient,Practitioner")
    assert manifest["requiresAccessToken"] is True
    assert "/$export?_type=Patient" in manifest["request"]
    files = _files(http, manifest)
    assert set(files) == {"Patient", "Practitioner"}
    assert {ids["a"], ids["b"]} <= _ids(files["Patient"])
    assert ids["doctor"] in _ids(files["Practitioner"])


def test_patient_export_has_every_patients_compartment_and_nothing_else(
    http: httpx.Client,
) -> None:
    ids = _family(http)
    files = _files(http, _export(http, "/Patient/$export"))
    # Practitioners belong to no patient; a Group is in its members' compartments.
    assert "Practitioner" not in files
    assert ids["group"] in _ids(files["Group"])
    assert {ids["a"], ids["b"]} <= _ids(files["Patient"])
    assert {f"obs-{ids['a']}", f"obs-{ids['b']}"} <= _ids(files["Observation"])


def test_group_export_has_only_the_members(http: httpx.Client) -> None:
    ids = _family(http)
    files = _files(http, _export(http, f"/Group/{ids['group']}/$export",
                                 _type="Patient,Observation"))
    assert _ids(files["Patient"]) == {ids["a"]}
    assert _ids(files["Observation"]) == {f"obs-{ids['a']}"}


def test_since_leaves_out_what_did_not_change(http: httpx.Client) -> None:
    ids = _family(http)
    changed = _put(http, {"resourceType": "Patient", "id": ids["b"], "active": True})
    files = _files(http, _export(http, f"/Group/{ids['group']}/$export", _since=changed))
    assert files == {}
    files = _files(http, _export(http, "/Patient/$export", _since=changed, _type="Patient"))
    assert ids["b"] in _ids(files["Patient"]) and ids["a"] not in _ids(files["Patient"])


def test_kick_off_by_post_with_parameters(http: httpx.Client) -> None:
    ids = _family(http)
    body = {"resourceType": "Parameters",
            "parameter": [{"name": "_type", "valueString": "Group"}]}
    kickoff = http.post("/$export", json=body, headers=ASYNC)
    assert kickoff.status_code == 202, kickoff.text
    status_url = kickoff.headers["Content-Location"]
    for _ in range(300):
        status = http.get(status_url)
        if status.status_code == 200:
            break
        time.sleep(0.2)
    assert status.status_code == 200
    assert ids["group"] in _ids(_files(http, status.json())["Group"])


def test_cancelling_removes_the_export(http: httpx.Client) -> None:
    _family(http)
    manifest = _export(http, "/$export", _type="Patient")
    file_url = manifest["output"][0]["url"]
    assert http.delete(manifest["status_url"]).status_code == 202
    gone = http.get(manifest["status_url"])
    assert gone.status_code == 404
    assert gone.json()["resourceType"] == "OperationOutcome"
    assert http.get(file_url).status_code == 404


@pytest.mark.parametrize(("path", "params", "headers", "words"), [
    ("/$export", {}, {}, "respond-async"),
    ("/$export", {"_type": "Bogus"}, ASYNC, "not a FHIR R4 resource type"),
    ("/$export", {"_outputFormat": "text/csv"}, ASYNC, "application/fhir+ndjson"),
    ("/$export", {"_typeFilter": "Patient?active=true"}, ASYNC, "_typeFilter"),
    ("/Patient/$export", {"_type": "Practitioner"}, ASYNC, "never belong to a patient"),
])
def test_kick_off_errors_are_explained(http: httpx.Client, path: str, params: dict[str, str],
                                       headers: dict[str, str], words: str) -> None:
    response = http.get(path, params=params, headers=headers)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert words in response.text


def test_unknown_group_and_job(http: httpx.Client) -> None:
    assert http.get("/Group/nobody/$export", headers=ASYNC).status_code == 404
    assert http.get("/$export-status/nothing").status_code == 404
