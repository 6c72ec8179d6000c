"""A partner city's instance (Vientiane's, seen from Bangkok) reads only the records of
patients who chose, from their account, to share with that city; it writes nothing, and
a withdrawn consent ends its reach at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from joserfc.jwk import ECKey
from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.auth.clients import ClientError, Clients
from mor.auth.roles import Role
from mor.auth.tokens import Tokens
from mor.db.schema import account
from tests.auth.people import PASSWORD
from tests.conftest import without_audit
from tests.web.browser import browser, hidden, sign_in

BASE = "https://mor.test/fhir"
VIENTIANE = "partner-vientiane"


def _public_keys() -> dict[str, object]:
    return {"keys": [ECKey.generate_key("P-384").as_dict(private=False)]}


@pytest.fixture
async def partner(app: Starlette, client: httpx.AsyncClient
                  ) -> AsyncIterator[httpx.AsyncClient]:
    """Vientiane's instance, as an HTTP client with its token."""
    engine = app.state.store.engine
    async with engine.begin() as conn:
        await conn.execute(account.delete())
    for resource in (
            {"resourceType": "Organization", "id": VIENTIANE,
             "name": "Vientiane Capital (partner city)"},
            {"resourceType": "Organization", "id": "hc-dusit", "name": "Dusit"},
            {"resourceType": "Patient", "id": "khamla",
             "managingOrganization": {"reference": "Organization/hc-dusit"}},
            {"resourceType": "Patient", "id": "somchai",
             "managingOrganization": {"reference": "Organization/hc-dusit"}},
            *({"resourceType": "Observation", "id": f"bp-{who}", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
               "subject": {"reference": f"Patient/{who}"}} for who in ("khamla", "somchai"))):
        put = await client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
        assert put.status_code in (200, 201), put.text
    await Accounts(engine).add("khamla@example.la", PASSWORD, Role.PATIENT,
                               fhir_user="Patient/khamla", verified=True)
    registered = await Clients(engine).add("Vientiane instance", scope="system/*.cruds",
                                           jwks=_public_keys(),
                                           partner_organization=VIENTIANE)
    token = await Tokens(engine).issue(client_id=registered.client.client_id,
                                       account_id=None, scope=registered.client.scope)
    async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE,
            headers={"Authorization": f"Bearer {token['access_token']}"}) as http:
        yield http


async def _seen(partner: httpx.AsyncClient, resource_type: str) -> set[str]:
    found = await partner.get(f"/{resource_type}")
    assert found.status_code == 200, found.text
    return {entry["resource"]["id"] for entry in without_audit(found.json())}


async def test_the_partner_reads_only_what_a_patient_shared_with_its_city(
        app: Starlette, partner: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    assert await _seen(partner, "Patient") == set()
    assert VIENTIANE in await _seen(partner, "Organization")  # the directory is public
    async with browser(app) as http:
        await sign_in(http, "khamla@example.la", PASSWORD)
        page = await http.get("/account/sharing")
        assert "Vientiane Capital (partner city)" in page.text
        shared = await http.post("/account/sharing", data={
            "csrf_token": hidden(page.text, "csrf_token"), "action": "share",
            "actor": f"Organization/{VIENTIANE}"})
        assert shared.status_code == 303
        assert await _seen(partner, "Patient") == {"khamla"}
        assert await _seen(partner, "Observation") == {"bp-khamla"}
        assert (await partner.get("/Patient/somchai")).status_code == 404
        everything = await partner.get("/Patient/khamla/$everything")
        assert everything.status_code == 200
        page = await http.get("/account/sharing")
        await http.post("/account/sharing", data={
            "csrf_token": hidden(page.text, "csrf_token"), "action": "withdraw",
            "consent": hidden(page.text, "consent")})
    assert await _seen(partner, "Patient") == set()
    # Khamla's record says which city read it.
    events = (await client.get("/AuditEvent", params={
        "patient": "Patient/khamla", "_count": "200"})).json()
    readers = {agent["who"].get("reference") for entry in events["entry"]
               for agent in entry["resource"]["agent"]}
    assert f"Organization/{VIENTIANE}" in readers


async def test_the_partner_writes_nothing_and_exports_nothing(
        partner: httpx.AsyncClient) -> None:
    created = await partner.post("/Observation", json={
        "resourceType": "Observation", "status": "final", "code": {"text": "note"},
        "subject": {"reference": "Patient/khamla"}})
    assert created.status_code == 403
    assert "partner city" in created.json()["issue"][0]["diagnostics"]
    exported = await partner.get("/$export", headers={"Prefer": "respond-async"})
    assert exported.status_code == 403


async def test_a_partner_city_instance_must_be_a_backend_service(app: Starlette) -> None:
    with pytest.raises(ClientError, match="backend service"):
        await Clients(app.state.store.engine).add(
            "Vientiane app", scope="user/*.rs", redirect_uris=("https://app.example/cb",),
            partner_organization=VIENTIANE)
