"""SMART App Launch for apps used by people: authorization code with PKCE (S256), the
person signing in on mor's page and allowing the app, refresh tokens, with Authlib's
OAuth client on the app's side. Failures: a wrong code verifier, no PKCE, a redirect URI
that was not registered, a refusal."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.auth.clients import Clients
from mor.auth.roles import Role
from mor.db.schema import account
from tests.web.browser import BASE, browser, hidden, sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Authlib announces its move to httpx2
    from authlib.integrations.httpx_client import AsyncOAuth2Client

REDIRECT = "https://app.example/callback"
PASSWORD = "a long enough password"


@pytest.fixture
async def app_id(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[str]:
    engine = app.state.store.engine
    async with engine.begin() as conn:
        await conn.execute(account.delete())
    for resource in ({"resourceType": "Patient", "id": "somsri"},
                     {"resourceType": "Patient", "id": "other"}):
        await client.put(f"/Patient/{resource['id']}", json=resource)
    await Accounts(engine).add("somsri@example.com", PASSWORD, Role.PATIENT,
                               fhir_user="Patient/somsri", verified=True)
    registered = await Clients(engine).add(
        "My health diary", scope="launch/patient openid fhirUser offline_access patient/*.rs",
        redirect_uris=(REDIRECT,))
    yield registered.client.client_id


def oauth(app: Starlette, client_id: str, **options: Any) -> AsyncOAuth2Client:
    settings: dict[str, Any] = {"redirect_uri": REDIRECT, "code_challenge_method": "S256",
                                "scope": "launch/patient patient/*.rs offline_access",
                                **options}
    return AsyncOAuth2Client(client_id, transport=httpx.ASGITransport(app=app),
                             base_url=BASE, **settings)


async def authorize(app: Starlette, url: str, decision: str = "allow") -> httpx.Response:
    """The person's side: sign in on mor's page, see what the app asks, decide."""
    async with browser(app) as person:
        start = await person.get(url)
        assert start.status_code == 303  # not signed in: to the sign-in page first
        signed_in = await sign_in(person, "somsri@example.com", PASSWORD,
                                  next_url=parse_qs(urlsplit(start.headers["location"]).query)
                                  ["next"][0])
        page = await person.get(signed_in.headers["location"])
        assert page.status_code == 200, page.text
        assert "My health diary" in page.text
        return await person.post(signed_in.headers["location"], data={
            "csrf_token": hidden(page.text, "csrf_token"), "decision": decision})


async def test_an_app_gets_a_token_for_its_patient_and_refreshes_it(
    app: Starlette, app_id: str,
) -> None:
    verifier = generate_token(48)
    async with oauth(app, app_id) as client:
        url, _state = client.create_authorization_url(f"{BASE}/auth/authorize",
                                                      code_verifier=verifier,
                                                      aud=f"{BASE}/fhir")
        back = await authorize(app, url)
        assert back.status_code == 302
        assert back.headers["location"].startswith(REDIRECT + "?code=")
        token = await client.fetch_token(f"{BASE}/auth/token",
                                         authorization_response=back.headers["location"],
                                         code_verifier=verifier)
        assert token["patient"] == "somsri"
        assert set(token["scope"].split()) == {"launch/patient", "patient/*.rs",
                                              "offline_access"}
        own = await client.get(f"{BASE}/fhir/Patient/somsri")
        assert own.status_code == 200
        assert (await client.get(f"{BASE}/fhir/Patient/other")).status_code == 404
        # A code is used once.
        again = await client.post(f"{BASE}/auth/token", data={
            "grant_type": "authorization_code", "client_id": app_id,
            "code": parse_qs(urlsplit(back.headers["location"]).query)["code"][0],
            "redirect_uri": REDIRECT, "code_verifier": verifier})
        assert again.json()["error"] == "invalid_grant"
        refreshed = await client.refresh_token(f"{BASE}/auth/token",
                                               refresh_token=token["refresh_token"])
        assert refreshed["access_token"] != token["access_token"]
        assert refreshed["patient"] == "somsri"
        # The old refresh token and its access token are revoked (rotation).
        old = await client.post(f"{BASE}/auth/token", data={
            "grant_type": "refresh_token", "client_id": app_id,
            "refresh_token": token["refresh_token"]})
        assert old.json()["error"] == "invalid_grant"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as raw:
        stale = await raw.get("/fhir/Patient/somsri",
                              headers={"Authorization": f"Bearer {token['access_token']}"})
        assert stale.status_code == 401


async def test_a_wrong_code_verifier_gets_no_token(app: Starlette, app_id: str) -> None:
    async with oauth(app, app_id) as client:
        url, _ = client.create_authorization_url(f"{BASE}/auth/authorize",
                                                 code_verifier=generate_token(48))
        back = await authorize(app, url)
        with pytest.raises(Exception, match="invalid_grant"):
            await client.fetch_token(f"{BASE}/auth/token",
                                     authorization_response=back.headers["location"],
                                     code_verifier=generate_token(48))


async def test_an_authorization_without_pkce_is_refused(app: Starlette, app_id: str) -> None:
    async with oauth(app, app_id, code_challenge_method=None) as client:
        url, _ = client.create_authorization_url(f"{BASE}/auth/authorize")
        refused = await authorize_page_only(app, url)
        assert refused.status_code == 400
        assert "code_challenge" in refused.text


async def test_an_unregistered_redirect_uri_gets_no_redirect(
    app: Starlette, app_id: str,
) -> None:
    async with oauth(app, app_id, redirect_uri="https://evil.example/cb") as client:
        url, _ = client.create_authorization_url(f"{BASE}/auth/authorize",
                                                 code_verifier=generate_token(48))
        refused = await authorize_page_only(app, url)
        # An error page at mor, never a redirect to the unregistered address.
        assert refused.status_code == 400
        assert "location" not in refused.headers


async def test_a_person_can_refuse(app: Starlette, app_id: str) -> None:
    async with oauth(app, app_id) as client:
        url, _ = client.create_authorization_url(f"{BASE}/auth/authorize",
                                                 code_verifier=generate_token(48))
        back = await authorize(app, url, decision="deny")
        assert back.status_code == 302
        assert "error=access_denied" in back.headers["location"]


async def authorize_page_only(app: Starlette, url: str) -> httpx.Response:
    async with browser(app) as person:
        start = await person.get(url)
        next_url = parse_qs(urlsplit(start.headers["location"]).query)["next"][0]
        signed_in = await sign_in(person, "somsri@example.com", PASSWORD, next_url=next_url)
        return await person.get(signed_in.headers["location"])


async def test_no_refresh_token_without_offline_access(app: Starlette, app_id: str) -> None:
    verifier = generate_token(48)
    async with oauth(app, app_id, scope="launch/patient patient/*.rs") as client:
        url, _ = client.create_authorization_url(f"{BASE}/auth/authorize",
                                                 code_verifier=verifier)
        back = await authorize(app, url)
        token = await client.fetch_token(f"{BASE}/auth/token",
                                         authorization_response=back.headers["location"],
                                         code_verifier=verifier)
        assert "refresh_token" not in token
        assert token["patient"] == "somsri"
