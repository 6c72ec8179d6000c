"""The CapabilityStatement tells the truth about what mor does."""

from __future__ import annotations

import httpx

from mor.fhir.resource_types import RESOURCE_TYPES


async def test_metadata_describes_an_r4_json_server(client: httpx.AsyncClient) -> None:
    response = await client.get("/metadata")
    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["format"] == ["json"]
    rest = statement["rest"][0]
    assert {i["code"] for i in rest["interaction"]} == {"transaction", "batch", "history-system"}
    types = {r["type"] for r in rest["resource"]}
    assert types == set(RESOURCE_TYPES)
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert patient["conditionalDelete"] == "single"
    names = {p["name"] for p in patient["searchParam"]}
    assert {"identifier", "name", "birthdate", "_id", "_lastUpdated"} <= names
    assert "composite" not in {p["type"] for p in patient["searchParam"]}


async def test_every_advertised_search_parameter_is_accepted(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    samples = {"string": "a", "token": "a", "reference": "Patient/a", "date": "2020",
               "uri": "http://a", "number": "1", "quantity": "1"}
    for parameter in patient["searchParam"]:
        response = await client.get(
            "/Patient", params={parameter["name"]: samples[parameter["type"]]},
            headers={"Prefer": "handling=strict"})
        assert response.status_code == 200, (parameter, response.text)
