"""ValueSet/$expand over ICD-10: what a FHIR client uses for search as you type."""

from __future__ import annotations

import httpx

from tests.conftest import backend_token

ICD10 = "http://hl7.org/fhir/sid/icd-10"


async def test_expand_finds_diagnoses_by_words(client: httpx.AsyncClient) -> None:
    response = await client.get("/ValueSet/$expand",
                                params={"url": ICD10, "filter": "type 2 diab", "count": "5"})
    assert response.status_code == 200
    value_set = response.json()
    assert value_set["resourceType"] == "ValueSet"
    expansion = value_set["expansion"]
    assert expansion["identifier"] and expansion["timestamp"]
    contains = expansion["contains"]
    assert len(contains) == 5
    assert contains[0] == {"system": ICD10, "version": "2019", "code": "E11",
                           "display": "Type 2 diabetes mellitus"}


async def test_expand_shows_thai_and_lao_names(client: httpx.AsyncClient) -> None:
    thai = (await client.get("/ValueSet/$expand", params={
        "url": f"{ICD10}?fhir_vs", "filter": "ความดัน", "displayLanguage": "th"})).json()
    first = thai["expansion"]["contains"][0]
    assert (first["code"], first["display"]) == ("I10", "โรคความดันโลหิตสูง")
    assert first["designation"] == [{"language": "en",
                                     "value": "Essential (primary) hypertension"}]
    lao = (await client.get("/ValueSet/$expand", params={
        "url": ICD10, "filter": "ເບົາຫວານ", "displayLanguage": "lo"})).json()
    assert lao["expansion"]["contains"][0]["code"] == "E11"


async def test_expand_finds_nothing_for_gibberish(client: httpx.AsyncClient) -> None:
    response = await client.get("/ValueSet/$expand", params={"url": ICD10, "filter": "xqzzyv"})
    assert response.status_code == 200
    assert response.json()["expansion"]["contains"] == []


async def test_expand_explains_what_is_missing_or_unknown(client: httpx.AsyncClient) -> None:
    cases = [
        ({"filter": "diab"}, "needs 'url'"),
        ({"url": "http://snomed.info/sct", "filter": "diab"}, "only ICD-10"),
        ({"url": ICD10}, "needs 'filter'"),
        ({"url": ICD10, "filter": "diab", "count": "0"}, "count=0"),
        ({"url": ICD10, "filter": "diab", "displayLanguage": "fr"}, "displayLanguage=fr"),
        ({"url": ICD10, "filter": "diab", "offset": "20"}, "not 'offset'"),
    ]
    for params, message in cases:
        response = await client.get("/ValueSet/$expand", params=params)
        assert response.status_code == 400, params
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert message in outcome["issue"][0]["diagnostics"], params


async def test_expand_needs_a_signed_in_caller_allowed_to_read_value_sets(
        client: httpx.AsyncClient) -> None:
    params = {"url": ICD10, "filter": "diab"}
    transport = httpx.ASGITransport(app=client.app)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://mor.test/fhir") as anon:
        assert (await anon.get("/ValueSet/$expand", params=params)).status_code == 401
        token = await backend_token(client.app.state.store.engine,  # type: ignore[attr-defined]
                                    "system/Observation.rs")
        narrow = await anon.get("/ValueSet/$expand", params=params,
                                headers={"Authorization": f"Bearer {token}"})
        assert narrow.status_code == 403


async def test_the_capability_statement_lists_expand(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    value_set = next(r for r in statement["rest"][0]["resource"] if r["type"] == "ValueSet")
    assert value_set["operation"] == [{
        "name": "expand",
        "definition": "http://hl7.org/fhir/OperationDefinition/ValueSet-expand"}]
