"""SMART Backend Services end to end, with Authlib's OAuth client (not mor's code) on
the other side: a registered service signs a JWT with its private key, gets a token for
the scopes it may have, uses it on the FHIR API, and loses access when the token is
revoked or expires, or the service is withdrawn."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import update
from starlette.applications import Starlette

from mor.auth.clients import Clients
from mor.db.schema import oauth_token
from tests.conftest import empty_database

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Authlib announces its move to httpx2
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT

BASE = "https://mor.test"
TOKEN_URL = f"{BASE}/auth/token"


Key = RSAKey | ECKey


class Service:
    def __init__(self, client_id: str, key: Key) -> None:
        self.client_id = client_id
        self.key = key

    def assertion(self, *, audience: str = TOKEN_URL, jti: str | None = None,
                  lifetime: int = 240, key: Key | None = None) -> str:
        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": audience,
                  "jti": jti or uuid.uuid4().hex, "exp": now + lifetime, "iat": now}
        key = key or self.key
        alg = "ES384" if isinstance(key, ECKey) else "RS384"
        return jwt.encode({"alg": alg, "typ": "JWT"}, claims, key, algorithms=[alg])


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    await empty_database(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=BASE) as client:
        yield client


async def register(app: Starlette, scope: str, *, elliptic: bool = False) -> Service:
    # SMART names RS384 and ES384; Authlib's client signs with RSA keys only.
    key: Key = ECKey.generate_key("P-384") if elliptic else RSAKey.generate_key(2048)
    registered = await Clients(app.state.store.engine).add(
        "city laboratory", scope=scope, jwks={"keys": [key.as_dict(private=False)]})
    return Service(registered.client.client_id, key)


def oauth_client(app: Starlette, service: Service) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        service.client_id, client_secret=service.key.as_dict(private=True),
        # SMART wants assertions that expire within five minutes; Authlib's default is an hour.
        token_endpoint_auth_method=PrivateKeyJWT(
            TOKEN_URL, alg="RS384", claims={"exp": int(time.time()) + 240}),
        revocation_endpoint_auth_method=PrivateKeyJWT(
            f"{BASE}/auth/revoke", alg="RS384", claims={"exp": int(time.time()) + 240}),
        transport=httpx.ASGITransport(app=app), base_url=BASE)


async def fetch_token(app: Starlette, service: Service, scope: str) -> dict[str, Any]:
    async with oauth_client(app, service) as client:
        token: dict[str, Any] = await client.fetch_token(
            TOKEN_URL, grant_type="client_credentials", scope=scope)
    return token


def bearer(token: dict[str, Any] | str) -> dict[str, str]:
    value = token if isinstance(token, str) else token["access_token"]
    return {"Authorization": f"Bearer {value}"}


async def test_the_configuration_tells_apps_how_to_get_tokens(http: httpx.AsyncClient) -> None:
    config = (await http.get("/fhir/.well-known/smart-configuration")).json()
    assert config["token_endpoint"] == TOKEN_URL
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]
    assert "client_credentials" in config["grant_types_supported"]
    assert "client-confidential-asymmetric" in config["capabilities"]
    assert config["code_challenge_methods_supported"] == ["S256"]
    # The CapabilityStatement says the same, the older way (SMART's oauth-uris extension).
    security = (await http.get("/fhir/metadata")).json()["rest"][0]["security"]
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris["token"] == TOKEN_URL
    assert uris["authorize"] == config["authorization_endpoint"]


async def test_a_service_gets_a_token_and_reads_with_it(
    app: Starlette, http: httpx.AsyncClient,
) -> None:
    service = await register(app, "system/Patient.rs system/Observation.rs")
    token = await fetch_token(app, service, "system/Patient.rs")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "system/Patient.rs"
    assert 0 < token["expires_in"] <= 300
    assert "refresh_token" not in token
    response = await http.get("/fhir/Patient", headers=bearer(token))
    assert response.status_code == 200, response.text
    # The token's scopes hold: no Observations, no writes.
    response = await http.get("/fhir/Observation", headers=bearer(token))
    assert response.status_code == 403
    assert "system/Patient.rs" in response.json()["issue"][0]["diagnostics"]
    response = await http.post("/fhir/Patient", headers=bearer(token),
                               json={"resourceType": "Patient"})
    assert response.status_code == 403


async def test_asking_for_more_than_allowed_gives_only_what_is_allowed(
    app: Starlette, http: httpx.AsyncClient,
) -> None:
    service = await register(app, "system/*.rs")
    token = await fetch_token(app, service, "system/*.cruds system/Patient.c")
    assert token["scope"] == "system/*.rs"
    response = await http.post("/fhir/Patient", headers=bearer(token),
                               json={"resourceType": "Patient"})
    assert response.status_code == 403
    with pytest.raises(Exception, match="invalid_scope"):
        await fetch_token(app, service, "system/Patient.c")


@pytest.mark.parametrize("problem", ["wrong audience", "replayed", "other key", "too long",
                                     "unknown client"])
async def test_a_bad_assertion_gets_no_token(
    app: Starlette, http: httpx.AsyncClient, problem: str,
) -> None:
    service = await register(app, "system/*.rs")
    client_id = service.client_id
    if problem == "wrong audience":
        assertion = service.assertion(audience="https://elsewhere.example/token")
    elif problem == "replayed":
        assertion = service.assertion(jti="once")
        first = await _token_request(http, client_id, assertion)
        assert first.status_code == 200, first.text
    elif problem == "other key":
        assertion = service.assertion(key=ECKey.generate_key("P-384"))
    elif problem == "too long":
        assertion = service.assertion(lifetime=3600)
    else:
        client_id = str(uuid.uuid4())
        assertion = Service(client_id, service.key).assertion()
    response = await _token_request(http, client_id, assertion)
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"
    assert response.headers["cache-control"] == "no-store"


async def test_an_elliptic_curve_key_works_too(app: Starlette, http: httpx.AsyncClient) -> None:
    service = await register(app, "system/*.rs", elliptic=True)
    response = await _token_request(http, service.client_id, service.assertion())
    assert response.status_code == 200, response.text
    assert (await http.get("/fhir/Patient", headers=bearer(response.json()))).status_code == 200


async def _token_request(http: httpx.AsyncClient, client_id: str, assertion: str
                         ) -> httpx.Response:
    return await http.post("/auth/token", data={
        "grant_type": "client_credentials", "scope": "system/*.rs", "client_id": client_id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion})


async def test_revoked_expired_and_withdrawn_tokens_stop_working(
    app: Starlette, http: httpx.AsyncClient,
) -> None:
    service = await register(app, "system/*.rs")
    engine = app.state.store.engine

    async def introspect(token: str) -> dict[str, Any]:
        response = await http.post("/auth/introspect", data={
            "token": token,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": service.assertion(audience=TOKEN_URL)})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    revoked = (await fetch_token(app, service, "system/*.rs"))["access_token"]
    assert (await introspect(revoked))["scope"] == "system/*.rs"
    async with oauth_client(app, service) as client:
        response = await client.revoke_token(f"{BASE}/auth/revoke", token=revoked,
                                             token_type_hint="access_token")
        assert response.status_code == 200, response.text
    assert (await http.get("/fhir/Patient", headers=bearer(revoked))).status_code == 401
    assert (await introspect(revoked)) == {"active": False}

    expired = (await fetch_token(app, service, "system/*.rs"))["access_token"]
    async with engine.begin() as conn:
        await conn.execute(update(oauth_token).where(oauth_token.c.kind == "access")
                           .values(expires=0))
    response = await http.get("/fhir/Patient", headers=bearer(expired))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")

    withdrawn = (await fetch_token(app, service, "system/*.rs"))["access_token"]
    assert (await http.get("/fhir/Patient", headers=bearer(withdrawn))).status_code == 200
    await Clients(engine).set_disabled(service.client_id, True)
    assert (await http.get("/fhir/Patient", headers=bearer(withdrawn))).status_code == 401


async def test_without_a_token_only_the_capability_statement_answers(
    http: httpx.AsyncClient,
) -> None:
    assert (await http.get("/fhir/metadata")).status_code == 200
    for method, path in [("GET", "/fhir/Patient"), ("GET", "/fhir/Patient/x"),
                         ("POST", "/fhir/Patient"), ("GET", "/fhir/_history"),
                         ("GET", "/fhir/$export")]:
        response = await http.request(method, path, json={"resourceType": "Patient"}
                                      if method == "POST" else None)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"
    response = await http.get("/fhir/Patient", headers=bearer("made-up"))
    assert response.status_code == 401
