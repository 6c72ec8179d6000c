"""OAuth 2.0 and SMART on FHIR over HTTP, and who sent each FHIR request.

``/fhir/.well-known/smart-configuration`` tells apps where to get tokens (SMART App
Launch 2.x); ``/auth/token``, ``/auth/revoke`` and ``/auth/introspect`` are answered by
:class:`mor.auth.smart_server.SmartServer`. :class:`BearerAuthentication` turns the
``Authorization: Bearer`` header of a FHIR request into the caller the store limits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mor.auth.callers import person_caller
from mor.auth.policy import ANONYMOUS, Principal
from mor.auth.scopes import Scopes
from mor.auth.smart_server import SmartServer
from mor.auth.tokens import Tokens
from mor.fhir.errors import Unauthorized
from mor.fhir.permissions import Caller
from mor.fhir.store import Store


class BearerAuthentication:
    def __init__(self, engine: AsyncEngine, store: Store) -> None:
        self.tokens = Tokens(engine)
        self.store = store

    async def __call__(self, request: Request) -> Caller:
        header = request.headers.get("authorization")
        if header is None:
            return ANONYMOUS
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Send the access token as 'Authorization: Bearer <token>'")
        grant = await self.tokens.find(token.strip())
        if grant is None:
            raise Unauthorized("The access token is not valid: it expired, was revoked, or "
                               "was never issued here; get a new one")
        address = request.client.host if request.client else None
        if grant.account_id is None:
            return Principal(client_id=grant.client_id, account=None,
                             scopes=Scopes.parse(grant.scope), patient=grant.patient,
                             address=address, partner=grant.partner_organization)
        # Read with the token: a disabled account's tokens are not found at all.
        account = grant.account
        if account is None or account.disabled:
            raise Unauthorized("The account this token was issued to is disabled")
        return await person_caller(self.store, account, client_id=grant.client_id,
                                   scopes=Scopes.parse(grant.scope), patient=grant.patient,
                                   address=address)


class SmartEndpoints:
    def __init__(self, server: SmartServer, base_url: str | None) -> None:
        self.server = server
        self.base_url = base_url

    def _base(self, request: Request) -> str:
        return self.base_url or str(request.base_url).rstrip("/")

    async def configuration(self, request: Request) -> Response:
        base = self._base(request)
        body: dict[str, Any] = {
            "issuer": base,
            "authorization_endpoint": f"{base}/auth/authorize",
            "token_endpoint": f"{base}/auth/token",
            "revocation_endpoint": f"{base}/auth/revoke",
            "introspection_endpoint": f"{base}/auth/introspect",
            "token_endpoint_auth_methods_supported": ["private_key_jwt",
                                                      "client_secret_basic", "none"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "grant_types_supported": ["authorization_code", "client_credentials",
                                      "refresh_token"],
            "scopes_supported": ["openid", "fhirUser", "launch/patient", "offline_access",
                                 "patient/*.rs", "patient/*.cruds", "user/*.rs",
                                 "user/*.cruds", "system/*.rs", "system/*.cruds"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "capabilities": ["launch-standalone", "client-public",
                             "client-confidential-symmetric",
                             "client-confidential-asymmetric", "context-standalone-patient",
                             "permission-offline", "permission-patient", "permission-user",
                             "permission-v1", "permission-v2"],
        }
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=3600"})

    async def token(self, request: Request) -> Response:
        return await self.server.token(request, self._base(request))

    async def revoke(self, request: Request) -> Response:
        return await self.server.revoke(request, self._base(request))

    async def introspect(self, request: Request) -> Response:
        return await self.server.introspect(request, self._base(request))
