"""Access and refresh tokens: random, opaque, stored only as SHA-256 hashes.

Opaque rather than self-contained (JWT) so that revoking a token, disabling an account
or withdrawing an app takes effect on the very next request.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from mor.auth.accounts import ACCOUNT_COLUMNS, Account, account_from_row
from mor.db.schema import account, oauth_client, oauth_token
from mor.fhir.timestamps import now_micros

ACCESS_SECONDS: Final = 3600
REFRESH_SECONDS: Final = 30 * 24 * 3600
# Backend services ask again when their token expires; SMART recommends five minutes.
BACKEND_ACCESS_SECONDS: Final = 300


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid access token stands for."""

    client_id: str
    account_id: str | None
    scope: str
    patient: str | None
    expires: int
    grant_id: str
    # The account it was issued to, read with the token (None for a backend service).
    account: Account | None = None
    # The partner city the client stands for, if it is a partner city's instance.
    partner_organization: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def issue(self, *, client_id: str, account_id: str | None, scope: str,
                    patient: str | None = None, refresh: bool = False,
                    access_seconds: int = ACCESS_SECONDS,
                    grant_id: str | None = None) -> dict[str, Any]:
        """A new access token (and refresh token), as the token endpoint answers it."""
        now = now_micros()
        grant_id = grant_id or str(uuid.uuid4())
        access = secrets.token_urlsafe(32)
        rows = [_row(access, "access", grant_id, client_id, account_id, scope, patient, now,
                     access_seconds)]
        answer: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                  "expires_in": access_seconds, "scope": scope}
        if refresh:
            refresh_token = secrets.token_urlsafe(32)
            rows.append(_row(refresh_token, "refresh", grant_id, client_id, account_id, scope,
                             patient, now, REFRESH_SECONDS))
            answer["refresh_token"] = refresh_token
        if patient:
            answer["patient"] = patient
        async with self.engine.begin() as conn:
            await conn.execute(oauth_token.insert(), rows)
        return answer

    async def find(self, token: str, kind: str = "access") -> Grant | None:
        """The grant behind a token that is valid now: not expired, not revoked, and its
        app and account still enabled."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(_FIND, {"token_hash": token_hash(token), "kind": kind,
                                              "now": now_micros()})).first()
        if row is None:
            return None
        person = account_from_row(row[7:]) if row[1] is not None else None
        return Grant(*row[:6], account=person, partner_organization=row[6])

    async def revoke(self, token: str) -> None:
        """Revoke the token and every token of the same grant (RFC 7009 says a refresh
        token's access tokens should go with it)."""
        async with self.engine.begin() as conn:
            grant = (await conn.execute(select(oauth_token.c.grant_id).where(
                oauth_token.c.token_hash == token_hash(token)))).scalar()
            if grant is not None:
                await conn.execute(update(oauth_token).where(oauth_token.c.grant_id == grant)
                                   .values(revoked=True))


# Built once: every API request looks its token up.
_FIND: Final = (
    select(oauth_token.c.client_id, oauth_token.c.account_id, oauth_token.c.scope,
           oauth_token.c.patient, oauth_token.c.expires, oauth_token.c.grant_id,
           oauth_client.c.partner_organization, *ACCOUNT_COLUMNS)
    .join(oauth_client, oauth_client.c.client_id == oauth_token.c.client_id)
    .outerjoin(account, account.c.id == oauth_token.c.account_id)
    .where(oauth_token.c.token_hash == bindparam("token_hash"),
           oauth_token.c.kind == bindparam("kind"), oauth_token.c.revoked.is_(False),
           oauth_token.c.expires > bindparam("now"), oauth_client.c.disabled.is_(False),
           (oauth_token.c.account_id.is_(None)) | (account.c.disabled.is_(False))))


def _row(token: str, kind: str, grant_id: str, client_id: str, account_id: str | None,
         scope: str, patient: str | None, now: int, seconds: int) -> dict[str, Any]:
    return {"token_hash": token_hash(token), "kind": kind, "grant_id": grant_id,
            "client_id": client_id, "account_id": account_id, "scope": scope,
            "patient": patient, "issued": now, "expires": now + seconds * 1_000_000,
            "revoked": False}
