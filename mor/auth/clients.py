"""Registered SMART apps and backend services (OAuth 2.0 clients)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Final

import orjson
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from mor.auth.passwords import hash_secret
from mor.auth.scopes import Scopes
from mor.db.schema import oauth_client
from mor.fhir.timestamps import now_micros

# How each kind of client proves who it is at the token endpoint.
AUTH_METHODS: Final = ("none", "client_secret_basic", "private_key_jwt")


class ClientError(ValueError):
    """A registration that cannot be made, with the reason for a person."""


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    auth_method: str
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    scope: str
    jwks: dict[str, Any] | None
    secret_hash: str | None
    disabled: bool
    # A partner city's instance, by the id of its Organization in this city's directory.
    partner_organization: str | None = None

    @property
    def is_backend(self) -> bool:
        return "client_credentials" in self.grant_types


@dataclass(frozen=True, slots=True)
class Registered:
    client: Client
    # Shown once, to the person registering a confidential app; only its hash is kept.
    secret: str | None


class Clients:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, name: str, *, scope: str, redirect_uris: tuple[str, ...] = (),
                  jwks: dict[str, Any] | None = None, confidential: bool = False,
                  partner_organization: str | None = None) -> Registered:
        """Register an app. With a JWK set it is a backend service (client credentials,
        private_key_jwt); with redirect URIs an app for people (authorization code with
        PKCE), public unless ``confidential``, which gives it a secret. A backend service
        with ``partner_organization`` is a partner city's instance, which reads only what
        patients share with that city."""
        parsed = Scopes.parse(scope)
        if partner_organization is not None and jwks is None:
            raise ClientError("A partner city's instance is a backend service: give its "
                              "JWK set")
        if not parsed.resource_scopes:
            raise ClientError(f"{scope!r} names no resource scope; give e.g. 'system/*.rs' "
                              "or 'patient/*.rs user/*.cruds'")
        if jwks is not None:
            _check_jwks(jwks)
            if redirect_uris:
                raise ClientError("A backend service (with a JWK set) has no redirect URIs")
            if parsed.contexts() - {"system"}:
                raise ClientError("A backend service acts for no person: its scopes are "
                                  "system/... scopes")
            auth_method, grants = "private_key_jwt", ["client_credentials"]
        else:
            if not redirect_uris:
                raise ClientError("An app for people needs at least one redirect URI; a "
                                  "backend service needs a JWK set (--jwks)")
            for uri in redirect_uris:
                if not uri.startswith(("https://", "http://localhost", "http://127.0.0.1")):
                    raise ClientError(f"Redirect URI {uri!r} must use https (or be on "
                                      "localhost, for development)")
            if "system" in parsed.contexts():
                raise ClientError("system/... scopes are for backend services, which "
                                  "register with a JWK set")
            auth_method = "client_secret_basic" if confidential else "none"
            grants = ["authorization_code", "refresh_token"]
        secret = secrets.token_urlsafe(32) if auth_method == "client_secret_basic" else None
        values = {
            "client_id": str(uuid.uuid4()), "name": name, "auth_method": auth_method,
            "grant_types": orjson.dumps(grants).decode(),
            "redirect_uris": orjson.dumps(list(redirect_uris)).decode(),
            "scope": str(parsed), "jwks": orjson.dumps(jwks).decode() if jwks else None,
            "secret_hash": hash_secret(secret) if secret else None, "disabled": False,
            "created": now_micros(), "partner_organization": partner_organization,
        }
        async with self.engine.begin() as conn:
            await conn.execute(oauth_client.insert().values(**values))
        client = await self.get(str(values["client_id"]))
        assert client is not None
        return Registered(client, secret)

    async def get(self, client_id: str) -> Client | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(*_COLUMNS).where(
                oauth_client.c.client_id == client_id))).first()
        return None if row is None else _client(row)

    async def all(self) -> list[Client]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(*_COLUMNS).order_by(oauth_client.c.name))).all()
        return [_client(row) for row in rows]

    async def set_disabled(self, client_id: str, disabled: bool) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(update(oauth_client).where(
                oauth_client.c.client_id == client_id).values(disabled=disabled))
        if result.rowcount == 0:
            raise ClientError(f"There is no registered app {client_id!r}")


def _check_jwks(jwks: dict[str, Any]) -> None:
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise ClientError(f"The JWK set cannot be read: {error}") from None
    if not key_set.keys:
        raise ClientError("The JWK set holds no key")
    if any(key.is_private for key in key_set.keys):
        raise ClientError("The JWK set holds a private key; register only the public keys "
                          "and keep the private key with the service")


_COLUMNS: Final = (oauth_client.c.client_id, oauth_client.c.name, oauth_client.c.auth_method,
                   oauth_client.c.grant_types, oauth_client.c.redirect_uris,
                   oauth_client.c.scope, oauth_client.c.jwks, oauth_client.c.secret_hash,
                   oauth_client.c.disabled, oauth_client.c.partner_organization)


def _client(row: tuple[Any, ...]) -> Client:
    return Client(client_id=row[0], name=row[1], auth_method=row[2],
                  grant_types=tuple(orjson.loads(row[3])),
                  redirect_uris=tuple(orjson.loads(row[4])), scope=row[5],
                  jwks=orjson.loads(row[6]) if row[6] else None, secret_hash=row[7],
                  disabled=bool(row[8]), partner_organization=row[9])
