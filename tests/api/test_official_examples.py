"""Every official FHIR R4 example loads through the REST API and reads back unchanged.

The examples are the npm package hl7.fhir.r4.examples 4.0.1, installed by
``scripts/install --test``. A resource is sent as it is published (PUT with its
own id, POST if it has none; transaction and batch Bundles POSTed to the base)
and, read back, must equal what was sent apart from ``meta``. The few examples
mor refuses are listed in KNOWN_REJECTIONS with the reason, and the test
checks mor refuses them for exactly that reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import examples_dir

# file name -> words the refusal's diagnostics must contain, and why it is right.
_NO_BASE = "missing required element 'base'"
KNOWN_REJECTIONS: dict[str, str] = {
    # POST ValueSet/$lookup, an operation mor does not offer (and PUT Patient/123a with
    # If-Match W/"2", which does not exist here): the transaction fails.
    "Bundle-bundle-transaction.json": "operation $lookup is not supported",
    # ImplementationGuide.name and .status are 1..1 in R4; these examples have neither.
    "ImplementationGuide-fhir.json": "missing required element 'name'",
    "ig-r4.json": "missing required element 'name'",
    # Questionnaire.item.linkId is 1..1; the nested items of this example lack it.
    "Questionnaire-qs1.json": "missing required element 'linkId'",
    # The id has 67 characters; FHIR ids have at most 64.
    "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json":
        "is not a valid",
    # SearchParameter.base is 1..*; these extension search parameters have none.
    "SearchParameter-codesystem-extensions-CodeSystem-author.json": _NO_BASE,
    "SearchParameter-codesystem-extensions-CodeSystem-effective.json": _NO_BASE,
    "SearchParameter-codesystem-extensions-CodeSystem-end.json": _NO_BASE,
    "SearchParameter-codesystem-extensions-CodeSystem-keyword.json": _NO_BASE,
    "SearchParameter-codesystem-extensions-CodeSystem-workflow.json": _NO_BASE,
    "SearchParameter-valueset-extensions-ValueSet-author.json": _NO_BASE,
    "SearchParameter-valueset-extensions-ValueSet-effective.json": _NO_BASE,
    "SearchParameter-valueset-extensions-ValueSet-end.json": _NO_BASE,
    "SearchParameter-valueset-extensions-ValueSet-keyword.json": _NO_BASE,
    "SearchParameter-valueset-extensions-ValueSet-workflow.json": _NO_BASE,
}


def _example_files() -> list[Path]:
    directory = examples_dir()
    if directory is None or not directory.is_dir():
        pytest.fail("MOR_FHIR_EXAMPLES_DIR is not set to the unpacked hl7.fhir.r4.examples "
                    "package; run the suite with scripts/test")
    return sorted(p for p in directory.glob("*.json") if not p.name.startswith(("package",
                                                                                   ".")))


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in resource.items() if key != "meta"}


@pytest.mark.slow
async def test_every_official_example_round_trips_and_is_found_by_search(
    client: httpx.AsyncClient,
) -> None:
    files = _example_files()
    assert len(files) > 5000
    refused: dict[str, str] = {}
    changed: list[str] = []
    loaded = 0
    for number, path in enumerate(files):
        resource = json.loads(path.read_bytes())
        if resource.get("resourceType") == "Bundle" and resource.get("type") in (
            "transaction", "batch"
        ):
            response = await client.post("", json=resource)
            if response.status_code != 200:
                refused[path.name] = _diagnostics(response)
            else:
                loaded += 1
            continue
        if resource.get("id"):
            response = await client.put(f"/{resource['resourceType']}/{resource['id']}",
                                        json=resource)
        else:
            response = await client.post(f"/{resource['resourceType']}", json=resource)
        if response.status_code not in (200, 201):
            refused[path.name] = _diagnostics(response)
            continue
        loaded += 1
        stored = response.json()
        expected = {**_without_meta(resource), "id": stored["id"]}
        # Each write answers with the resource as stored; every tenth is read back too,
        # through the read interaction (half the requests: this test is CI's longest).
        if number % 10 == 0:
            stored = (await client.get(f"/{stored['resourceType']}/{stored['id']}")).json()
        if _without_meta(stored) != expected:
            changed.append(path.name)
    print(f"official examples: {len(files)} files, {loaded} loaded, {len(refused)} refused")
    assert changed == []
    assert set(refused) == set(KNOWN_REJECTIONS), refused
    for name, words in KNOWN_REJECTIONS.items():
        assert words in refused[name], (name, refused[name])
    await _search_battery(client)


# -- searches over the loaded examples ------------------------------------------------------

BATTERY_TYPES = ("Patient", "Observation", "Condition", "Encounter", "Procedure",
                 "MedicationRequest", "AllergyIntolerance", "Immunization",
                 "DiagnosticReport", "Practitioner", "Organization")


async def _all_of_type(client: httpx.AsyncClient, resource_type: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    url: str | None = f"/{resource_type}?_count=500"
    while url is not None:
        bundle = (await client.get(url)).json()
        found += [entry["resource"] for entry in bundle.get("entry", [])]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"),
                   None)
    return found


def _local_reference(reference: Any) -> str | None:
    """Type/id of a literal reference, absolute or relative, without its version."""
    if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
        return None
    text = reference["reference"].split("/_history/")[0]
    parts = text.split("/")
    if len(parts) < 2 or text.startswith(("#", "urn:")):
        return None
    return "/".join(parts[-2:])


def _codings(concept: Any) -> set[tuple[str, str]]:
    if not isinstance(concept, dict):
        return set()
    return {(c["system"], c["code"]) for c in concept.get("coding", [])
            if isinstance(c, dict) and c.get("system") and c.get("code")}


async def _search_ids(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> set[str]:
    params = {**params, "_count": "1000"}
    response = await client.get(path, params=params, headers={"Prefer": "handling=strict"})
    assert response.status_code == 200, (path, params, response.text)
    return {e["resource"]["id"] for e in response.json().get("entry", [])
            if e["search"]["mode"] == "match"}


async def _search_battery(client: httpx.AsyncClient) -> None:
    """Each search's expected result is worked out from the examples' own content."""
    checked = 0
    for resource_type in BATTERY_TYPES:
        resources = await _all_of_type(client, resource_type)
        assert resources, resource_type
        expectations: dict[tuple[str, str], set[str]] = {}
        for resource in resources:
            if isinstance(resource.get("status"), str):
                expectations.setdefault(("status", resource["status"]), set()).add(
                    resource["id"])
            subject = _local_reference(resource.get("subject"))
            if subject is not None:
                expectations.setdefault(("subject", subject), set()).add(resource["id"])
            for system, code in _codings(resource.get("code")):
                expectations.setdefault(("code", f"{system}|{code}"), set()).add(
                    resource["id"])
            if resource_type == "Patient":
                expectations.setdefault(("gender", str(resource.get("gender"))), set())
                if "gender" in resource:
                    expectations[("gender", resource["gender"])].add(resource["id"])
        for (name, value), expected in sorted(expectations.items()):
            if name == "code" and resource_type in ("Practitioner", "Organization"):
                continue
            found = await _search_ids(client, f"/{resource_type}", {name: value})
            assert found == expected, (resource_type, name, value)
            checked += 1
    families = {name["family"].lower()[:3]
                for patient in await _all_of_type(client, "Patient")
                for name in patient.get("name", [])
                if isinstance(name.get("family"), str) and name["family"].isascii()}
    patients = await _all_of_type(client, "Patient")
    for prefix in sorted(families):
        expected = {p["id"] for p in patients
                    if any(isinstance(n.get("family"), str)
                           and n["family"].lower().startswith(prefix)
                           for n in p.get("name", []))}
        assert await _search_ids(client, "/Patient", {"family": prefix}) == expected, prefix
        checked += 1
    print(f"official examples: {checked} searches checked against the example data")
    assert checked > 150


def _diagnostics(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} " + " ".join(
            issue.get("diagnostics", "") for issue in body.get("issue", []))
    except ValueError:
        return f"{response.status_code} {response.text[:200]}"
