"""A patient decides from their account who sees their record and whether their data
serves research; the access rule follows at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.auth.clients import Clients
from mor.auth.roles import Role
from mor.auth.tokens import Tokens
from mor.db.schema import account
from tests.web.browser import browser, hidden, sign_in

PASSWORD = "a long enough password"


@pytest.fixture
async def doctor_elsewhere(app: Starlette, client: httpx.AsyncClient
                           ) -> AsyncIterator[dict[str, str]]:
    engine = app.state.store.engine
    async with engine.begin() as conn:
        await conn.execute(account.delete())
    for resource in ({"resourceType": "Organization", "id": "hc-1", "name": "Dusit"},
                     {"resourceType": "Organization", "id": "hc-2", "name": "Bang Rak"},
                     {"resourceType": "Patient", "id": "somsri",
                      "managingOrganization": {"reference": "Organization/hc-1"}}):
        await client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    accounts = Accounts(engine)
    await accounts.add("somsri@example.com", PASSWORD, Role.PATIENT,
                       fhir_user="Patient/somsri", verified=True)
    doctor = await accounts.add("dr.bangrak", PASSWORD, Role.DOCTOR,
                                fhir_user="Practitioner/br", organizations=("hc-2",))
    app_client = await Clients(engine).add("workspace", scope="user/*.cruds",
                                           redirect_uris=("https://app.example/cb",))
    token = await Tokens(engine).issue(client_id=app_client.client.client_id,
                                       account_id=doctor.id, scope="user/*.rs")
    yield {"Authorization": f"Bearer {token['access_token']}"}


async def test_a_patient_shares_with_another_centre_and_stops(
    app: Starlette, doctor_elsewhere: dict[str, str], client: httpx.AsyncClient,
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://mor.test/fhir") as fhir:
        async def doctor_sees() -> int:
            return (await fhir.get("/Patient/somsri", headers=doctor_elsewhere)).status_code

        assert await doctor_sees() == 404
        async with browser(app) as http:
            await sign_in(http, "somsri@example.com", PASSWORD)
            page = await http.get("/account/sharing")
            assert page.status_code == 200
            assert "Bang Rak" in page.text
            shared = await http.post("/account/sharing", data={
                "csrf_token": hidden(page.text, "csrf_token"), "action": "share",
                "actor": "Organization/hc-2"})
            assert shared.status_code == 303
            assert await doctor_sees() == 200
            page = await http.get("/account/sharing")
            assert "Stop sharing" in page.text
            await http.post("/account/sharing", data={
                "csrf_token": hidden(page.text, "csrf_token"), "action": "withdraw",
                "consent": hidden(page.text, "consent")})
            assert await doctor_sees() == 404
            await http.post("/account/sharing", data={
                "csrf_token": hidden(page.text, "csrf_token"), "action": "research",
                "research": "no"})
            await http.post("/account/sharing", data={
                "csrf_token": hidden(page.text, "csrf_token"), "action": "research",
                "research": "yes"})
    research = (await client.get("/Consent", params={
        "scope": "http://terminology.hl7.org/CodeSystem/consentscope|research"})).json()
    # One research Consent, changed when she changed her mind.
    assert [e["resource"]["provision"]["type"] for e in research["entry"]] == ["permit"]
    assert research["entry"][0]["resource"]["meta"]["versionId"] == "2"


async def test_the_page_needs_the_patient_signed_in(app: Starlette) -> None:
    async with browser(app) as http:
        response = await http.get("/account/sharing")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/auth/login")
        forged = await http.post("/account/sharing", data={"action": "share",
                                                           "actor": "Organization/hc-2"})
        assert forged.status_code == 303
