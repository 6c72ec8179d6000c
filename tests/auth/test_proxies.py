"""Acting for a family member: a son whose mother consented sees and adds to her record
from his own account; every such action names him as her proxy; withdrawing the
consent ends it at once; without a consent, nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from mor.auth.roles import Role
from mor.db.schema import account
from tests.auth.people import bearer, person_token

BASE = "https://mor.test/fhir"


async def _token(app: Starlette, username: str, patient: str) -> dict[str, str]:
    return bearer(await person_token(app.state.store.engine, username, Role.PATIENT,
                                     f"Patient/{patient}"))


def _consent(status: str = "active") -> dict[str, Any]:
    return {"resourceType": "Consent", "id": "mae-shares", "status": status,
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                            "consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": "Patient/mae"},
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                 "v3-ActCode", "code": "OPTIN"}]},
            "provision": {"type": "permit",
                          "actor": [{"role": {"coding": [{
                              "system": "http://terminology.hl7.org/CodeSystem/"
                                        "v3-ParticipationType", "code": "PROV"}]},
                              "reference": {"reference": "RelatedPerson/son-of-mae"}}]}}


@pytest.fixture
async def family(app: Starlette, client: httpx.AsyncClient
                 ) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], dict[str, str]]]:
    async with app.state.store.engine.begin() as conn:
        await conn.execute(account.delete())
    for resource in ({"resourceType": "Patient", "id": "mae"},
                     {"resourceType": "Patient", "id": "son"},
                     {"resourceType": "Observation", "id": "mae-bp", "status": "final",
                      "code": {"text": "blood pressure"},
                      "subject": {"reference": "Patient/mae"}}):
        await client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    mae = await _token(app, "0811111111", "mae")
    son = await _token(app, "0822222222", "son")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=BASE) as http:
        yield http, mae, son


async def test_a_son_acts_for_his_mother_once_she_consents(
    family: tuple[httpx.AsyncClient, dict[str, str], dict[str, str]],
    client: httpx.AsyncClient,
) -> None:
    http, mae, son = family
    # The mother names her son (by his account) as her RelatedPerson ...
    related = {"resourceType": "RelatedPerson", "id": "son-of-mae", "active": True,
               "patient": {"reference": "Patient/mae"},
               "identifier": [{"system": "urn:mor:account", "value": "0822222222"}],
               "relationship": [{"coding": [{
                   "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                   "code": "SONC"}]}]}
    assert (await http.put("/RelatedPerson/son-of-mae", json=related,
                           headers=mae)).status_code == 201
    # ... which alone gives him nothing,
    assert (await http.get("/Patient/mae", headers=son)).status_code == 404
    # until she consents.
    assert (await http.put("/Consent/mae-shares", json=_consent(),
                           headers=mae)).status_code == 201
    assert (await http.get("/Patient/mae", headers=son)).status_code == 200
    found = (await http.get("/Observation", headers=son)).json()
    assert {e["resource"]["id"] for e in found["entry"]} == {"mae-bp"}
    reading = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
               "subject": {"reference": "Patient/mae"}}
    assert (await http.post("/Observation", json=reading, headers=son)).status_code == 201
    # The record says he acted on her behalf.
    events = (await client.get("/AuditEvent", params={
        "agent": "RelatedPerson/son-of-mae"})).json()
    assert events["entry"]
    agents = events["entry"][0]["resource"]["agent"]
    assert agents[0]["who"]["reference"] == "Patient/son"
    assert agents[1]["who"]["reference"] == "RelatedPerson/son-of-mae"
    assert "Patient/mae" in agents[1]["purposeOfUse"][0]["text"]
    # She withdraws: at once he sees nothing of hers.
    assert (await http.put("/Consent/mae-shares", json=_consent("inactive"),
                           headers=mae)).status_code == 200
    assert (await http.get("/Patient/mae", headers=son)).status_code == 404
    assert (await http.get("/Observation", headers=son)).json().get("entry", []) == []


async def test_no_one_can_make_themselves_a_proxy(
    family: tuple[httpx.AsyncClient, dict[str, str], dict[str, str]],
) -> None:
    http, _, son = family
    # The son cannot write the consent into his mother's record himself.
    assert (await http.put("/Consent/mae-shares", json=_consent(),
                           headers=son)).status_code == 403
    assert (await http.get("/Patient/mae", headers=son)).status_code == 404
