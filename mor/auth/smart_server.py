"""The OAuth 2.0 authorization server of SMART on FHIR, built on Authlib.

Authlib does the protocol: client authentication (``private_key_jwt`` assertions of
RFC 7523, client secrets), grant types, scopes, errors, token revocation (RFC 7009) and
introspection (RFC 7662). mor supplies the storage. Authlib calls its hooks
synchronously, so each token request runs in a worker thread and the hooks reach
mor's async storage back on the event loop (``anyio.from_thread``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeVar

import anyio.from_thread
import anyio.to_thread
from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Payload,
    grants,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from mor.auth.clients import Client, Clients
from mor.auth.passwords import verify_secret
from mor.auth.scopes import Scopes
from mor.auth.tokens import (
    ACCESS_SECONDS,
    BACKEND_ACCESS_SECONDS,
    Grant,
    Tokens,
    token_hash,
)
from mor.db.schema import oauth_assertion, oauth_code
from mor.fhir.timestamps import now_micros

T = TypeVar("T")
# What a client assertion may name as its audience (RFC 7523: the authorization server):
# the token endpoint, the endpoint called, or the issuer, as this request reached them.
# A context variable, as Authlib's hooks run in another thread.
_AUDIENCES: ContextVar[list[str]] = ContextVar("mor_assertion_audiences")
ASSERTION_ALGORITHMS: Final = ["RS384", "ES384", "RS256", "ES256", "PS384"]
# An authorization code must be exchanged within a minute (RFC 6749 suggests at most ten).
CODE_SECONDS: Final = 60
# Longest life mor accepts for a client assertion; SMART asks for at most five minutes.
MAX_ASSERTION_SECONDS: Final = 300


def _on_loop(function: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run an async storage call from Authlib's worker thread on the event loop."""
    return anyio.from_thread.run(function, *args)


class _ClientModel(ClientMixin):  # type: ignore[misc]
    def __init__(self, client: Client) -> None:
        self.client = client

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.client.redirect_uris[0] if self.client.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = Scopes.parse(self.client.scope)
        if not scope:
            return str(allowed)
        return str(Scopes.parse(scope).narrowed_to(allowed))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_secret(self.client.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.client.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.client.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.client.grant_types


@dataclass
class _Token:
    """A stored token as Authlib's revocation and introspection endpoints see it."""

    grant: Grant
    kind: str
    token: str

    def check_client(self, client: _ClientModel) -> bool:
        return self.grant.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.grant.scope

    def get_expires_in(self) -> int:
        return max(0, (self.grant.expires - now_micros()) // 1_000_000)

    def is_expired(self) -> bool:
        return self.grant.expires <= now_micros()

    def is_revoked(self) -> bool:
        return False  # Tokens.find answers only tokens that are not revoked


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, form: dict[str, str], lists: dict[str, list[str]]) -> None:
        self._form = form
        self._lists = lists

    @property
    def data(self) -> dict[str, str]:
        return self._form

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return defaultdict(list, self._lists)


class _Request(OAuth2Request):  # type: ignore[misc]
    """An HTTP request whose form was read beforehand, so the worker thread need not."""

    def __init__(self, method: str, uri: str, headers: dict[str, str], form: FormData,
                 args: dict[str, str]) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._form = {k: str(v) for k, v in form.items()}
        self._args = args
        lists: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            lists.setdefault(key, []).append(str(value))
        for key, value in args.items():
            lists.setdefault(key, []).append(value)
        # As Flask's request.values: the query string and the form together.
        self.payload = _Payload({**args, **self._form}, lists)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _ClientAssertion(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, server: SmartServer) -> None:
        super().__init__(leeway=30)
        self.server = server

    def get_audiences(self) -> list[str]:
        return _AUDIENCES.get()

    def resolve_client_public_key(self, client: _ClientModel) -> KeySet:
        return KeySet.import_key_set(client.client.jwks or {"keys": []})  # type: ignore[arg-type]

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        # SMART Backend Services signs with RS384 or ES384, which joserfc does not accept
        # unless asked; only asymmetric algorithms, so a public key is never a secret.
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except JoseError as error:
            raise InvalidClientError(description=error.description) from error
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        expires = int(claims.get("exp", 0)) * 1_000_000
        if expires > now_micros() + (MAX_ASSERTION_SECONDS + 30) * 1_000_000:
            raise InvalidClientError(description=(
                f"The client assertion must expire within {MAX_ASSERTION_SECONDS} seconds "
                "(SMART Backend Services); make its exp sooner"))
        return _on_loop(self.server.remember_assertion, str(claims["sub"]), jti, expires)


class _Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["none", "client_secret_basic", "private_key_jwt"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Token | None:
        return self.server.query_token(token_string, token_type_hint)  # type: ignore[no-any-return]

    def revoke_token(self, token: _Token, request: OAuth2Request) -> None:
        _on_loop(self.server.tokens.revoke, token.token)


class _Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "private_key_jwt"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Token | None:
        return self.server.query_token(token_string, token_type_hint)  # type: ignore[no-any-return]

    def check_permission(self, token: _Token, client: _ClientModel,
                         request: OAuth2Request) -> bool:
        # An app may ask about its own tokens only.
        return token.check_client(client)

    def introspect_token(self, token: _Token) -> dict[str, Any]:
        grant = token.grant
        answer: dict[str, Any] = {
            "active": True, "client_id": grant.client_id, "scope": grant.scope,
            "token_type": "Bearer", "exp": grant.expires // 1_000_000}
        if grant.patient:
            answer["patient"] = grant.patient
        return answer


class _ClientCredentials(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["private_key_jwt"]


@dataclass(frozen=True)
class User:
    """The person a grant is for, and the patient in context (launch/patient)."""

    id: str
    patient: str | None = None


@dataclass(frozen=True)
class _Code:
    client_id: str
    account_id: str
    redirect_uri: str
    scope: str
    patient: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    code_hash: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class _Pkce(CodeChallenge):  # type: ignore[misc]
    """PKCE as SMART App Launch 2 requires it: on every authorization, S256 only."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "Missing 'code_challenge': SMART apps must use PKCE with S256")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class _AuthorizationCode(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none", "client_secret_basic"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        user: User = request.user
        _on_loop(self.server.save_code, code, request.client.get_client_id(), user,
                 request.payload.redirect_uri or request.client.get_default_redirect_uri(),
                 request.payload.scope or "", request.payload.data.get("code_challenge"),
                 request.payload.data.get("code_challenge_method"))

    def query_authorization_code(self, code: str, client: _ClientModel) -> _Code | None:
        found: _Code | None = _on_loop(self.server.find_code, code, client.get_client_id())
        return found

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        _on_loop(self.server.delete_code, authorization_code.code_hash)

    def authenticate_user(self, authorization_code: _Code) -> User:
        return User(authorization_code.account_id, authorization_code.patient)


class _RefreshToken(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none", "client_secret_basic"]
    # A new refresh token with each use; the old grant is revoked (rotation).
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> _Token | None:
        found: _Token | None = self.server.query_token(refresh_token, "refresh_token")
        return found if found is not None and found.kind == "refresh" else None

    def authenticate_user(self, refresh_token: _Token) -> User | None:
        account_id = refresh_token.grant.account_id
        return None if account_id is None else User(account_id, refresh_token.grant.patient)

    def revoke_old_credential(self, refresh_token: _Token) -> None:
        _on_loop(self.server.tokens.revoke, refresh_token.token)


class SmartServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(scopes_supported=None)
        self.engine = engine
        self.clients = Clients(engine)
        self.tokens = Tokens(engine)
        self.register_token_generator("default", self._generate_token)
        self.register_client_auth_method(_ClientAssertion.CLIENT_AUTH_METHOD,
                                         _ClientAssertion(self))
        self.register_grant(_ClientCredentials)
        self.register_grant(_AuthorizationCode, [_Pkce(required=True)])
        self.register_grant(_RefreshToken)
        self.register_endpoint(_Revocation)
        self.register_endpoint(_Introspection)

    # -- HTTP -------------------------------------------------------------------

    async def token(self, request: Request, base_url: str) -> Response:
        return await self._answer(request, base_url, "token",
                                  lambda r: self.create_token_response(r))

    async def revoke(self, request: Request, base_url: str) -> Response:
        return await self._answer(request, base_url, "revoke",
                                  lambda r: self.create_endpoint_response(
                                      _Revocation.ENDPOINT_NAME, r))

    async def introspect(self, request: Request, base_url: str) -> Response:
        return await self._answer(request, base_url, "introspect",
                                  lambda r: self.create_endpoint_response(
                                      _Introspection.ENDPOINT_NAME, r))

    async def _answer(self, request: Request, base_url: str, endpoint: str,
                      respond: Callable[[_Request], Response]) -> Response:
        oauth_request = await self._oauth_request(request, base_url, endpoint)
        response: Response = await anyio.to_thread.run_sync(respond, oauth_request)
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- Authlib's hooks (called in the worker thread) -----------------------------

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]
                        ) -> Response:
        if status == 302:
            return RedirectResponse(dict(headers)["Location"], 302)
        return JSONResponse(body, status, dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def query_client(self, client_id: str) -> _ClientModel | None:
        client = _on_loop(self.clients.get, client_id)
        return None if client is None or client.disabled else _ClientModel(client)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        return None  # _generate_token stored it already

    def query_token(self, token_string: str, hint: str | None) -> _Token | None:
        kinds = ["refresh", "access"] if hint == "refresh_token" else ["access", "refresh"]
        for kind in kinds:
            grant = _on_loop(self.tokens.find, token_string, kind)
            if grant is not None:
                return _Token(grant, kind, token_string)
        return None

    def _generate_token(self, *, grant_type: str, client: _ClientModel, user: Any = None,
                        scope: str | None = None, expires_in: int | None = None,
                        include_refresh_token: bool = True) -> dict[str, Any]:
        backend = grant_type == "client_credentials"
        scope = client.get_allowed_scope(scope)
        if not Scopes.parse(scope or "").resource_scopes:
            raise InvalidScopeError(description="None of the scopes asked for is one this app "
                                    f"may have; it may ask for: {client.client.scope}")
        # SMART: a refresh token only for the offline_access or online_access scope.
        refresh = not backend and include_refresh_token and bool(
            {"offline_access", "online_access"} & set((scope or "").split()))
        return _on_loop(_issue, self.tokens, client.get_client_id(),
                        None if user is None else user.id, scope or "", refresh,
                        BACKEND_ACCESS_SECONDS if backend else ACCESS_SECONDS,
                        None if user is None else user.patient)

    # -- authorization codes -----------------------------------------------------

    async def save_code(self, code: str, client_id: str, user: User, redirect_uri: str,
                        scope: str, challenge: str | None, method: str | None) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(oauth_code.insert().values(
                code_hash=token_hash(code), client_id=client_id, account_id=user.id,
                redirect_uri=redirect_uri, scope=scope, patient=user.patient,
                code_challenge=challenge, code_challenge_method=method,
                expires=now_micros() + CODE_SECONDS * 1_000_000))

    async def find_code(self, code: str, client_id: str) -> _Code | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(
                oauth_code.c.client_id, oauth_code.c.account_id, oauth_code.c.redirect_uri,
                oauth_code.c.scope, oauth_code.c.patient, oauth_code.c.code_challenge,
                oauth_code.c.code_challenge_method, oauth_code.c.code_hash).where(
                oauth_code.c.code_hash == token_hash(code), oauth_code.c.client_id == client_id,
                oauth_code.c.expires > now_micros()))).first()
        return None if row is None else _Code(*row)

    async def delete_code(self, code_hash: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(oauth_code.delete().where(oauth_code.c.code_hash == code_hash))

    async def check_authorization(self, request: Request, base_url: str) -> Any:
        """Validate an authorization request (client, redirect URI, scopes, PKCE); raises
        Authlib's OAuth2Error when it is not valid."""
        oauth_request = await self._oauth_request(request, base_url, "authorize")
        return await anyio.to_thread.run_sync(
            lambda: self.get_consent_grant(oauth_request, end_user=None))

    async def authorization_response(self, request: Request, base_url: str,
                                     user: User | None) -> Response:
        """Redirect back to the app: with a code if ``user`` allowed it, else refused."""
        oauth_request = await self._oauth_request(request, base_url, "authorize")

        def respond() -> Response:
            # Validated again: what the person allowed must still be a valid request.
            grant = self.get_consent_grant(oauth_request, end_user=user)
            answer: Response = self.create_authorization_response(
                oauth_request, grant_user=user, grant=grant)
            return answer

        response: Response = await anyio.to_thread.run_sync(respond)
        return response

    async def _oauth_request(self, request: Request, base_url: str, endpoint: str
                             ) -> _Request:
        form = await request.form() if request.method == "POST" else FormData()
        _AUDIENCES.set([f"{base_url}/auth/token", f"{base_url}/auth/{endpoint}", base_url])
        return _Request(request.method, f"{base_url}/auth/{endpoint}", dict(request.headers),
                        form, dict(request.query_params))

    async def remember_assertion(self, client_id: str, jti: str, expires: int) -> bool:
        """Record a client assertion's jti; False if it was used before."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(oauth_assertion.delete().where(
                    oauth_assertion.c.expires < now_micros()))
                await conn.execute(oauth_assertion.insert().values(
                    client_id=client_id, jti=jti, expires=expires))
        except IntegrityError:
            return False
        return True


async def _issue(tokens: Tokens, client_id: str, account_id: str | None, scope: str,
                 refresh: bool, seconds: int, patient: str | None) -> dict[str, Any]:
    return await tokens.issue(client_id=client_id, account_id=account_id, scope=scope,
                              refresh=refresh, access_seconds=seconds, patient=patient)


__all__ = ["SmartServer", "token_hash"]
