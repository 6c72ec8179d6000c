"""The CapabilityStatement tells the truth about what mor does."""

from __future__ import annotations

import httpx

from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.search_parameters import parameter_by_url


async def test_metadata_describes_an_r4_json_server(client: httpx.AsyncClient) -> None:
    response = await client.get("/metadata")
    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["format"] == ["json"]
    rest = statement["rest"][0]
    assert {i["code"] for i in rest["interaction"]} == {"transaction", "batch", "history-system",
                                                        "search-system"}
    assert "http://hl7.org/fhir/CompartmentDefinition/patient" in rest["compartment"]
    types = {r["type"] for r in rest["resource"]}
    assert types == set(RESOURCE_TYPES)
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert patient["conditionalDelete"] == "single"
    names = {p["name"] for p in patient["searchParam"]}
    assert {"identifier", "name", "birthdate", "_id", "_lastUpdated"} <= names
    assert "special" not in {p["type"] for p in patient["searchParam"]}
    assert "Patient:organization" in patient["searchInclude"]
    assert patient["operation"][0]["name"] == "everything"


SAMPLES = {"string": "a", "token": "a", "reference": "Patient/a", "date": "2020",
           "uri": "http://a", "number": "1", "quantity": "1"}


def _sample(parameter: dict[str, str]) -> str:
    if parameter["type"] != "composite":
        return SAMPLES[parameter["type"]]
    definition = parameter_by_url(parameter["definition"])
    assert definition is not None
    parts = [parameter_by_url(c.definition) for c in definition.components]
    return "$".join(SAMPLES[part.type] for part in parts if part is not None)


async def test_every_advertised_search_parameter_is_accepted_and_sortable(
    client: httpx.AsyncClient,
) -> None:
    statement = (await client.get("/metadata")).json()
    advertised = 0
    for entry in statement["rest"][0]["resource"]:
        for parameter in entry["searchParam"]:
            params = {parameter["name"]: _sample(parameter)}
            if parameter["type"] != "composite":
                params["_sort"] = parameter["name"]
            response = await client.get(f"/{entry['type']}", params=params,
                                        headers={"Prefer": "handling=strict"})
            assert response.status_code == 200, (entry["type"], parameter, response.text)
            advertised += 1
    assert advertised > 2500
