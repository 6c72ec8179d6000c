"""Where a search looks: across types, in one patient's compartment, $everything."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.searching import LOINC, all_pages, coding, ids, included, matches, put, search


async def _two_patients(client: httpx.AsyncClient) -> None:
    await put(client,
              {"resourceType": "Practitioner", "id": "dr-ploy", "name": [{"family": "Ploy"}]},
              {"resourceType": "Patient", "id": "somchai", "name": [{"family": "ใจดี"}],
               "generalPractitioner": [{"reference": "Practitioner/dr-ploy"}]},
              {"resourceType": "Patient", "id": "noy", "name": [{"family": "ພົມມະຈັນ"}]})
    for patient in ("somchai", "noy"):
        await put(client,
                  {"resourceType": "Observation", "id": f"bp-{patient}", "status": "final",
                   "code": coding(LOINC, "85354-9"),
                   "subject": {"reference": f"Patient/{patient}"},
                   "performer": [{"reference": "Practitioner/dr-ploy"}]},
                  {"resourceType": "Condition", "id": f"htn-{patient}",
                   "code": coding("http://hl7.org/fhir/sid/icd-10", "I10"),
                   "subject": {"reference": f"Patient/{patient}"}},
                  {"resourceType": "Encounter", "id": f"visit-{patient}", "status": "finished",
                   "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                             "code": "VR"},
                   "subject": {"reference": f"Patient/{patient}"}})


async def test_system_search_with_type(client: httpx.AsyncClient) -> None:
    await _two_patients(client)
    assert await ids(client, "/", {"_type": "Condition,Encounter",
                                   "_id": "htn-noy,visit-noy,bp-noy"}) == {"htn-noy",
                                                                         "visit-noy"}
    assert await ids(client, "/", {"_id": "bp-noy,noy"}) == {"bp-noy", "noy"}
    bundle = await search(client, "/", {"_type": "Patient,Practitioner", "_sort": "-_id"})
    assert matches(bundle) == ["somchai", "noy", "dr-ploy"]
    # A parameter is only usable if every type searched has it.
    response = await client.get("/", params={"_type": "Patient,Condition", "code": "I10"},
                                headers={"Prefer": "handling=strict"})
    assert response.status_code == 400
    assert "every type searched" in response.text


async def test_search_by_post_at_the_base(client: httpx.AsyncClient) -> None:
    await _two_patients(client)
    response = await client.post("/_search", data={"_type": "Patient", "_id": "noy"})
    assert response.status_code == 200, response.text
    assert matches(response.json()) == ["noy"]


async def test_compartment_search(client: httpx.AsyncClient) -> None:
    await _two_patients(client)
    assert await ids(client, "/Patient/noy/Observation") == {"bp-noy"}
    assert await ids(client, "/Patient/noy/Condition", {"code": "I10"}) == {"htn-noy"}
    assert await ids(client, "/Patient/noy/*") == {"noy", "bp-noy", "htn-noy", "visit-noy"}
    assert await ids(client, "/Practitioner/dr-ploy/Observation") == {"bp-noy",
                                                                      "bp-somchai"}
    response = await client.get("/Patient/noy/Organization")
    assert response.status_code == 400
    assert "never in a Patient's compartment" in response.text


async def test_everything_pages_through_one_patients_record(
    client: httpx.AsyncClient,
) -> None:
    await _two_patients(client)
    pages = await all_pages(client, "/Patient/somchai/$everything", {"_count": "2"})
    assert len(pages) == 2
    found = [id_ for page in pages for id_ in matches(page)]
    assert sorted(found) == ["bp-somchai", "htn-somchai", "somchai", "visit-somchai"]
    # The doctor they point to comes along; the other patient's record does not.
    assert "Practitioner/dr-ploy" in {ref for page in pages for ref in included(page)}
    assert not [id_ for id_ in found if "noy" in id_]


async def test_everything_with_type_and_since(client: httpx.AsyncClient) -> None:
    await _two_patients(client)
    assert await ids(client, "/Patient/noy/$everything", {"_type": "Condition"}) == {
        "htn-noy"}
    # The last of noy's resources written; _since includes what changed at that instant.
    later = (await client.get("/Encounter/visit-noy")).json()["meta"]["lastUpdated"]
    updated: dict[str, Any] = (await client.get("/Condition/htn-noy")).json()
    updated["clinicalStatus"] = coding(
        "http://terminology.hl7.org/CodeSystem/condition-clinical", "active")
    await put(client, updated)
    assert await ids(client, "/Patient/noy/$everything", {"_since": later}) == {
        "visit-noy", "htn-noy"}
    missing = await client.get("/Patient/nobody/$everything")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"
