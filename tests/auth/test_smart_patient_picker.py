"""A clinician launching a SMART app standalone with launch/patient picks the patient on
mor's authorization page, from the patients they may see; the token then reaches that
patient alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.auth.clients import Clients
from mor.auth.roles import Role
from mor.db.schema import account
from tests.auth.test_smart_app_launch import PASSWORD
from tests.auth.test_smart_app_launch import oauth as oauth_client
from tests.web.browser import BASE, browser, hidden, sign_in_staff

REDIRECT = "https://chart.example/callback"


@pytest.fixture
async def app_id(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[str]:
    engine = app.state.store.engine
    async with engine.begin() as conn:
        await conn.execute(account.delete())
    for resource in (
            {"resourceType": "Organization", "id": "hc-dusit", "name": "Dusit"},
            {"resourceType": "Patient", "id": "somsri", "birthDate": "1958-04-13",
             "name": [{"family": "Jaidee", "given": ["Somsri"]}],
             "identifier": [{"system": "https://www.dopa.go.th", "value": "1101700230705"}],
             "managingOrganization": {"reference": "Organization/hc-dusit"}},
            {"resourceType": "Patient", "id": "somchai",
             "name": [{"family": "Jaidee", "given": ["Somchai"]}],
             "managingOrganization": {"reference": "Organization/hc-dusit"}},
            {"resourceType": "Patient", "id": "elsewhere",
             "name": [{"family": "Jaidee", "given": ["Malee"]}]}):
        await client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    await Accounts(engine).add("dr.anan", PASSWORD, Role.DOCTOR,
                               fhir_user="Practitioner/anan", organizations=("hc-dusit",))
    registered = await Clients(engine).add(
        "Growth chart", scope="launch/patient openid fhirUser patient/*.rs",
        redirect_uris=(REDIRECT,))
    yield registered.client.client_id


async def test_a_doctor_picks_the_patient_and_the_token_reaches_only_them(
        app: Starlette, app_id: str) -> None:
    verifier = generate_token(48)
    async with oauth_client(app, app_id, redirect_uri=REDIRECT,
                            scope="launch/patient patient/*.rs") as oauth, browser(app) as doctor:
        url, _ = oauth.create_authorization_url(f"{BASE}/auth/authorize",
                                                code_verifier=verifier, aud=f"{BASE}/fhir")
        start = await doctor.get(url)
        next_url = parse_qs(urlsplit(start.headers["location"]).query)["next"][0]
        signed_in = await sign_in_staff(doctor, "dr.anan", PASSWORD, next_url)
        page = await doctor.get(signed_in.headers["location"])
        assert page.status_code == 200, page.text
        assert "Which patient is the app for?" in page.text
        assert f"value=\"{app_id}\"" in page.text  # the find form keeps the request
        # Patients of the doctor's centre only; not one of another centre.
        assert "Somsri Jaidee" in page.text and "Somchai Jaidee" in page.text
        assert "Malee" not in page.text
        here = signed_in.headers["location"]
        # The find form sends the app's request along with what was typed.
        found = await doctor.get(f"{here}&{urlencode({'find': 'Somsri'})}")
        assert "Somsri Jaidee" in found.text and "Somchai" not in found.text
        by_number = await doctor.get(f"{here}&{urlencode({'find': '1-1017-00230-70-5'})}")
        assert "Somsri Jaidee" in by_number.text and "Somchai" not in by_number.text
        csrf = hidden(page.text, "csrf_token")
        # A patient outside the doctor's reach cannot be put in context by editing the form.
        forged = await doctor.post(signed_in.headers["location"], data={
            "csrf_token": csrf, "decision": "allow", "patient": "elsewhere"})
        assert forged.status_code == 400
        assert "Choose the patient" in forged.text
        back = await doctor.post(signed_in.headers["location"], data={
            "csrf_token": csrf, "decision": "allow", "patient": "somsri"})
        assert back.status_code == 302, back.text
        token = await oauth.fetch_token(f"{BASE}/auth/token",
                                        authorization_response=back.headers["location"],
                                        code_verifier=verifier)
        assert token["patient"] == "somsri"
        assert (await oauth.get(f"{BASE}/fhir/Patient/somsri")).status_code == 200
        assert (await oauth.get(f"{BASE}/fhir/Patient/somchai")).status_code == 404
