"""References across resources: chains, reverse chains (_has), _include and _revinclude."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.searching import LOINC, coding, ids, included, matches, put, search


def _patient(id_: str, family: str, organization: str | None = None) -> dict[str, Any]:
    patient: dict[str, Any] = {"resourceType": "Patient", "id": id_,
                               "name": [{"family": family}]}
    if organization:
        patient["managingOrganization"] = {"reference": f"Organization/{organization}"}
    return patient


def _observation(id_: str, patient: str, code: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": id_, "status": "final",
            "code": coding(LOINC, code), "subject": {"reference": f"Patient/{patient}"}}


async def _records(client: httpx.AsyncClient) -> None:
    await put(client,
              {"resourceType": "Organization", "id": "bangkhen", "name": "Bang Khen Centre"},
              {"resourceType": "Organization", "id": "chanthabouly",
               "name": "ສູນສຸຂະພາບ Chanthabouly"},
              _patient("somchai", "ใจดี", "bangkhen"),
              _patient("noy", "ພົມມະຈັນ", "chanthabouly"),
              _patient("nobody", "Nobody"),
              _observation("bp-somchai", "somchai", "85354-9"),
              _observation("glucose-somchai", "somchai", "1558-6"),
              _observation("bp-noy", "noy", "85354-9"),
              {"resourceType": "Location", "id": "ward", "name": "ใจดี ward"},
              {"resourceType": "Observation", "id": "ward-census", "status": "final",
               "code": coding(LOINC, "85354-9"), "subject": {"reference": "Location/ward"}})


async def test_chained_parameters_follow_the_reference(client: httpx.AsyncClient) -> None:
    await _records(client)
    assert await ids(client, "/Observation", {"subject:Patient.name": "ใจดี"}) == {
        "bp-somchai", "glucose-somchai"}
    # Without a type, every target type with the parameter is tried.
    assert await ids(client, "/Observation", {"subject.name": "ใจดี"}) == {
        "bp-somchai", "glucose-somchai", "ward-census"}
    assert await ids(client, "/Observation", {"patient.family": "ພົມ"}) == {"bp-noy"}
    # Two links: observations of patients of a health centre.
    assert await ids(client, "/Observation",
                     {"subject:Patient.organization.name": "ສູນ"}) == {"bp-noy"}
    assert await ids(client, "/Observation", [("subject:Patient.name", "ใจดี"),
                                              ("code", "85354-9")]) == {"bp-somchai"}


async def test_chain_errors_say_what_is_wrong(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"status.name": "x"})
    assert response.status_code == 400
    assert "only references can be chained" in response.text
    response = await client.get("/Observation", params={"subject:Patient.colour": "x"},
                                headers={"Prefer": "handling=strict"})
    assert response.status_code == 400
    assert "'colour'" in response.text


async def test_reverse_chaining_with_has(client: httpx.AsyncClient) -> None:
    await _records(client)
    assert await ids(client, "/Patient", {"_has:Observation:patient:code": "1558-6"}) == {
        "somchai"}
    assert await ids(client, "/Patient", {"_has:Observation:subject:code": "85354-9"}) == {
        "somchai", "noy"}
    # Nested: organisations whose patients have a blood pressure on record.
    assert await ids(client, "/Organization",
                     {"_has:Patient:organization:_has:Observation:patient:code": "85354-9"}
                     ) == {"bangkhen", "chanthabouly"}
    response = await client.get("/Patient", params={"_has:Observation:code": "x"})
    assert response.status_code == 400
    assert "_has:[type]:[reference parameter]:[parameter]" in response.text


async def test_include_adds_each_referenced_resource_once(client: httpx.AsyncClient) -> None:
    await _records(client)
    bundle = await search(client, "/Observation", {"subject": "Patient/somchai",
                                                   "_include": "Observation:subject"})
    assert sorted(matches(bundle)) == ["bp-somchai", "glucose-somchai"]
    assert included(bundle) == ["Patient/somchai"]


async def test_included_resources_do_not_count_towards_count(
    client: httpx.AsyncClient,
) -> None:
    await _records(client)
    bundle = await search(client, "/Observation", {"code": "85354-9", "_count": "1",
                                                   "_include": "Observation:patient",
                                                   "_sort": "_id"})
    assert matches(bundle) == ["bp-noy"]
    assert included(bundle) == ["Patient/noy"]


async def test_include_target_type_and_wildcard(client: httpx.AsyncClient) -> None:
    await _records(client)
    params = {"code": "85354-9", "_include": "Observation:subject:Location"}
    assert included(await search(client, "/Observation", params)) == ["Location/ward"]
    bundle = await search(client, "/Patient", {"_id": "somchai", "_include": "*"})
    assert included(bundle) == ["Organization/bangkhen"]


async def test_include_iterate_follows_included_resources(client: httpx.AsyncClient) -> None:
    await _records(client)
    params = [("_id", "bp-noy"), ("_include", "Observation:subject"),
              ("_include:iterate", "Patient:organization")]
    bundle = await search(client, "/Observation", params)
    assert sorted(included(bundle)) == ["Organization/chanthabouly", "Patient/noy"]
    # Without :iterate the second rule applies only to matches, which are no Patients.
    params[2] = ("_include", "Patient:organization")
    assert included(await search(client, "/Observation", params)) == ["Patient/noy"]


async def test_revinclude(client: httpx.AsyncClient) -> None:
    await _records(client)
    bundle = await search(client, "/Patient", {"_id": "somchai,nobody",
                                               "_revinclude": "Observation:subject"})
    assert sorted(matches(bundle)) == ["nobody", "somchai"]
    assert sorted(included(bundle)) == ["Observation/bp-somchai", "Observation/glucose-somchai"]
    bundle = await search(client, "/Organization", [
        ("_id", "chanthabouly"), ("_revinclude", "Patient:organization"),
        ("_revinclude:iterate", "Observation:patient")])
    assert sorted(included(bundle)) == ["Observation/bp-noy", "Patient/noy"]


async def test_deleted_resources_are_neither_matched_nor_included(
    client: httpx.AsyncClient,
) -> None:
    await _records(client)
    assert (await client.delete("/Patient/noy")).status_code in (200, 204)
    assert await ids(client, "/Observation", {"subject:Patient.name": "ພົມ"}) == set()
    bundle = await search(client, "/Observation", {"_id": "bp-noy",
                                                   "_include": "Observation:subject"})
    assert included(bundle) == []


async def test_bad_include_is_explained(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation", params={"_include": "Observation:status"})
    assert response.status_code == 400
    assert "not a reference parameter of Observation" in response.text


async def test_several_references_in_one_value_find_any_of_them(
    client: httpx.AsyncClient,
) -> None:
    await _records(client)
    assert await ids(client, "/Observation", {"subject": "Patient/somchai,Patient/noy"}) == {
        "bp-somchai", "glucose-somchai", "bp-noy"}
    # Types mixed, a bare id and a reference nothing has: each is looked up as written.
    assert await ids(client, "/Observation", {
        "subject": "Location/ward,noy,Patient/nobody-here"}) == {"ward-census", "bp-noy"}
    assert await ids(client, "/Observation", {"subject": "Location/somchai,Patient/ward"}) \
        == set()
