"""Sign-in sessions of mor's own pages: a random token in a cookie, kept here as a hash.

A session starts half-open when the password is right; staff complete it with their
TOTP code. Each session has its own CSRF token, which every form sends back. Sessions
expire after ``SESSION_SECONDS`` and can be revoked (signing out, or an administrator
disabling the account).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from mor.auth.tokens import token_hash
from mor.db.schema import account, login_session
from mor.fhir.timestamps import now_micros

SESSION_SECONDS: Final = 8 * 3600  # a working day
# Time to give the second factor after the password.
HALF_OPEN_SECONDS: Final = 5 * 60


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    account_id: str
    complete: bool
    csrf_token: str

    def csrf_matches(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent, self.csrf_token)


class Sessions:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def open(self, account_id: str, *, complete: bool, address: str | None) -> Session:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = now_micros()
        seconds = SESSION_SECONDS if complete else HALF_OPEN_SECONDS
        async with self.engine.begin() as conn:
            await conn.execute(login_session.insert().values(
                token_hash=token_hash(token), account_id=account_id, complete=complete,
                csrf_token=csrf, created=now, expires=now + seconds * 1_000_000,
                revoked=False, address=address))
        return Session(token, account_id, complete, csrf)

    async def find(self, token: str | None) -> Session | None:
        """The live session of a cookie: not expired, not revoked, its account enabled."""
        if not token:
            return None
        async with self.engine.connect() as conn:
            row = (await conn.execute(
                select(login_session.c.account_id, login_session.c.complete,
                       login_session.c.csrf_token)
                .join(account, account.c.id == login_session.c.account_id)
                .where(login_session.c.token_hash == token_hash(token),
                       login_session.c.revoked.is_(False),
                       login_session.c.expires > now_micros(),
                       account.c.disabled.is_(False)))).first()
        return None if row is None else Session(token, row[0], bool(row[1]), row[2])

    async def complete(self, session: Session) -> Session:
        """The second factor was given: a new full session replaces the half-open one."""
        await self.revoke(session.token)
        return await self.open(session.account_id, complete=True, address=None)

    async def revoke(self, token: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(login_session).where(
                login_session.c.token_hash == token_hash(token)).values(revoked=True))
