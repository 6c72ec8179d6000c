"""Tokens against ValueSets (:in, :not-in), identifier types (:of-type), the meta
parameters (_tag, _profile, _security) and words (_text, _content)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.searching import LOINC, coding, ids, put

ICD10 = "http://hl7.org/fhir/sid/icd-10"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CHRONIC = "http://mor.example/fhir/ValueSet/chronic-follow-up"


def _condition(id_: str, system: str, code: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": id_, "code": coding(system, code),
            "subject": {"reference": "Patient/p"}}


async def _conditions(client: httpx.AsyncClient) -> None:
    await put(client,
              {"resourceType": "ValueSet", "id": "chronic", "status": "active", "url": CHRONIC,
               "compose": {"include": [{"system": ICD10, "concept": [{"code": "I10"},
                                                                     {"code": "E11"}]}]}},
              {"resourceType": "ValueSet", "id": "all-loinc", "status": "active",
               "url": "http://mor.example/fhir/ValueSet/all-loinc",
               "compose": {"include": [{"system": LOINC}]}},
              _condition("hypertension", ICD10, "I10"),
              _condition("diabetes", ICD10, "E11"),
              _condition("flu", ICD10, "J11"),
              _condition("loinc-coded", LOINC, "I10"),
              {"resourceType": "Condition", "id": "uncoded", "code": {"text": "tired"},
               "subject": {"reference": "Patient/p"}})


async def test_in_and_not_in_a_stored_value_set(client: httpx.AsyncClient) -> None:
    await _conditions(client)
    assert await ids(client, "/Condition", {"code:in": CHRONIC}) == {"hypertension",
                                                                     "diabetes"}
    assert await ids(client, "/Condition", {"code:not-in": CHRONIC}) == {
        "flu", "loinc-coded", "uncoded"}
    # A ValueSet that includes a whole code system.
    assert await ids(client, "/Condition",
                     {"code:in": "http://mor.example/fhir/ValueSet/all-loinc"}) == {
        "loinc-coded"}
    response = await client.get("/Condition", params={"code:in": "http://nowhere/vs"})
    assert response.status_code == 400
    assert "No ValueSet with url" in response.text


async def test_identifier_of_type(client: httpx.AsyncClient) -> None:
    def identifier(code: str, value: str) -> dict[str, Any]:
        return {"type": coding(V2_0203, code), "system": "urn:oid:1.2.3", "value": value}
    await put(client,
              {"resourceType": "Patient", "id": "mr", "identifier": [identifier("MR", "555")]},
              {"resourceType": "Patient", "id": "passport",
               "identifier": [identifier("PPN", "555")]})
    assert await ids(client, "/Patient", {"identifier:of-type": f"{V2_0203}|MR|555"}) == {
        "mr"}
    assert await ids(client, "/Patient", {"identifier": "555"}) == {"mr", "passport"}
    response = await client.get("/Patient", params={"identifier:of-type": "MR|555"})
    assert response.status_code == 400
    assert "type-system|type-code|value" in response.text


async def test_tag_profile_and_security(client: httpx.AsyncClient) -> None:
    tag = {"system": "http://mor.example/tags", "code": "drill"}
    await put(client,
              {"resourceType": "Patient", "id": "tagged",
               "meta": {"tag": [tag], "profile": ["http://mor.example/StructureDefinition/p"],
                        "security": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                      "v3-Confidentiality", "code": "R"}]}},
              {"resourceType": "Patient", "id": "plain"})
    assert await ids(client, "/Patient", {"_tag": "http://mor.example/tags|drill"}) == {
        "tagged"}
    assert await ids(client, "/Patient",
                     {"_profile": "http://mor.example/StructureDefinition/p"}) == {"tagged"}
    assert await ids(client, "/Patient", {"_security": "R"}) == {"tagged"}
    assert await ids(client, "/Patient", {"_tag:missing": "true"}) == {"plain"}


async def test_text_and_content_find_words(client: httpx.AsyncClient) -> None:
    div = ('<div xmlns="http://www.w3.org/1999/xhtml"><p>Home visit: <b>bedridden</b>, '
           "needs insulin</p></div>")
    await put(client,
              {"resourceType": "Patient", "id": "home", "text": {"status": "generated",
                                                                "div": div},
               "name": [{"family": "ແສງສະຫວ່າງ", "given": ["Bounmy"]}]},
              {"resourceType": "Patient", "id": "other", "name": [{"family": "Insul"}]})
    assert await ids(client, "/Patient", {"_text": "bedridden"}) == {"home"}
    assert await ids(client, "/Patient", {"_text": "INSULIN visit"}) == {"home"}
    assert await ids(client, "/Patient", {"_text": "insulin diabetes"}) == set()
    assert await ids(client, "/Patient", {"_content": "bounmy"}) == {"home"}
    assert await ids(client, "/Patient", {"_content": "ແສງ"}) == {"home"}
    assert await ids(client, "/Patient", {"_content": "insul"}) == {"home", "other"}
