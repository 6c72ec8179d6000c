"""A clinician reaches the patients of the health centres where their PractitionerRole is
active: the roster in the FHIR store, not a list on the account, decides, and ending a
role ends the reach at the next request."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from mor.auth.accounts import AccountError
from mor.auth.roles import Role
from mor.db.schema import account
from mor.services.staff import add_account
from tests.auth.people import PASSWORD, bearer, person_token
from tests.conftest import without_audit

BASE = "https://mor.test/fhir"


@pytest.fixture
async def http(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    async with app.state.store.engine.begin() as conn:
        await conn.execute(account.delete())
    for resource in (
            {"resourceType": "Organization", "id": "hc-din-daeng", "name": "Din Daeng"},
            {"resourceType": "Organization", "id": "hc-bang-rak", "name": "Bang Rak"},
            {"resourceType": "Practitioner", "id": "nurse-ploy", "name": [{"text": "Ploy"}]},
            {"resourceType": "Patient", "id": "p-din-daeng",
             "managingOrganization": {"reference": "Organization/hc-din-daeng"}},
            {"resourceType": "Patient", "id": "p-bang-rak",
             "managingOrganization": {"reference": "Organization/hc-bang-rak"}}):
        put = await client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
        assert put.status_code in (200, 201), put.text
    yield client


def _role(role_id: str, centre: str, **extra: object) -> dict[str, object]:
    return {"resourceType": "PractitionerRole", "id": role_id, "active": True,
            "practitioner": {"reference": "Practitioner/nurse-ploy"},
            "organization": {"reference": f"Organization/{centre}"}, **extra}


async def _patients_seen(app: Starlette, headers: dict[str, str]) -> set[str]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as nurse:
        found = await nurse.get("/Patient", headers=headers)
    assert found.status_code == 200, found.text
    return {entry["resource"]["id"] for entry in without_audit(found.json())}


async def test_a_nurse_sees_the_patients_of_the_centre_she_is_rostered_at(
        app: Starlette, http: httpx.AsyncClient) -> None:
    headers = bearer(await person_token(app.state.store.engine, "ploy", Role.NURSE,
                                        "Practitioner/nurse-ploy"))
    assert await _patients_seen(app, headers) == set()
    await http.put("/PractitionerRole/r1", json=_role("r1", "hc-din-daeng"))
    assert await _patients_seen(app, headers) == {"p-din-daeng"}
    await http.put("/PractitionerRole/r2", json=_role("r2", "hc-bang-rak"))
    assert await _patients_seen(app, headers) == {"p-din-daeng", "p-bang-rak"}


async def test_ending_a_role_ends_its_reach_at_the_next_request(
        app: Starlette, http: httpx.AsyncClient) -> None:
    headers = bearer(await person_token(app.state.store.engine, "ploy", Role.NURSE,
                                        "Practitioner/nurse-ploy"))
    await http.put("/PractitionerRole/r1", json=_role("r1", "hc-din-daeng"))
    await http.put("/PractitionerRole/r2", json=_role(
        "r2", "hc-bang-rak", period={"start": "2020-01-01", "end": "2021-06-30"}))
    await http.put("/PractitionerRole/r3", json=_role(
        "r3", "hc-bang-rak", period={"start": "2999-01-01"}))
    assert await _patients_seen(app, headers) == {"p-din-daeng"}
    await http.put("/PractitionerRole/r1", json=_role("r1", "hc-din-daeng", active=False))
    assert await _patients_seen(app, headers) == set()


async def test_adding_staff_writes_their_practitioner_and_roles(
        app: Starlette, http: httpx.AsyncClient) -> None:
    store = app.state.store
    added = await add_account(store, "dr.anan", PASSWORD, Role.DOCTOR, name="Anan Suksan",
                              organizations=("hc-din-daeng", "hc-bang-rak"))
    assert added.fhir_user is not None and added.fhir_user.startswith("Practitioner/")
    practitioner = (await http.get(f"/{added.fhir_user}")).json()
    assert practitioner["name"] == [{"text": "Anan Suksan"}]
    roles = (await http.get("/PractitionerRole", params={
        "practitioner": added.fhir_user})).json()
    centres = {entry["resource"]["organization"]["reference"]
               for entry in without_audit(roles)}
    assert centres == {"Organization/hc-din-daeng", "Organization/hc-bang-rak"}
    codes = {entry["resource"]["code"][0]["coding"][0]["code"]
             for entry in without_audit(roles)}
    assert codes == {"doctor"}


async def test_staff_at_an_unknown_centre_are_refused_and_nothing_is_written(
        app: Starlette, http: httpx.AsyncClient) -> None:
    store = app.state.store
    before = (await http.get("/Practitioner", params={"_summary": "count"})).json()["total"]
    with pytest.raises(AccountError, match="no health centre Organization/hc-nowhere"):
        await add_account(store, "dr.lost", PASSWORD, Role.DOCTOR,
                          organizations=("hc-din-daeng", "hc-nowhere"))
    after = (await http.get("/Practitioner", params={"_summary": "count"})).json()["total"]
    assert after == before
    assert without_audit((await http.get("/PractitionerRole")).json()) == []
    with pytest.raises(AccountError, match="Only staff"):
        await add_account(store, "someone", PASSWORD, Role.PATIENT,
                          organizations=("hc-din-daeng",))
