"""The second factor of staff sign-in: time-based one-time passwords (TOTP, RFC 6238)
from an authenticator app, enrolled by scanning a QR code."""

from __future__ import annotations

import io
from functools import cached_property
from pathlib import Path
from typing import Final

import pyotp
import segno
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from mor.auth.sealed_secrets import SealedSecrets, is_sealed, load_or_create_key
from mor.db.schema import account

ISSUER: Final = "mor"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_code_svg(uri: str) -> str:
    """The otpauth:// URI as an SVG QR code, to put straight into a page."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, xmldecl=False,
                                    svgns=True, title="TOTP")
    return out.getvalue().decode()


def code_is_right(secret: str, code: str) -> bool:
    # One step either side: phones' clocks drift.
    return pyotp.TOTP(secret).verify(code.strip().replace(" ", ""), valid_window=1)


class TotpSecrets:
    """The enrolled secrets, sealed with the key in ``key_file`` (read, or made, at the
    first use: only staff sign-ins need it)."""

    def __init__(self, engine: AsyncEngine, key_file: Path) -> None:
        self.engine = engine
        self.key_file = key_file

    @cached_property
    def _sealed(self) -> SealedSecrets:
        return SealedSecrets(load_or_create_key(self.key_file))

    async def get(self, account_id: str) -> str | None:
        async with self.engine.connect() as conn:
            value = (await conn.execute(select(account.c.totp_secret).where(
                account.c.id == account_id))).scalar()
        if value is None:
            return None
        stored = str(value)
        if is_sealed(stored):
            return self._sealed.unseal(stored, account_id)
        # Enrolled before secrets were sealed: sealed now, at the person's next sign-in
        # (a migration could not, as the key is not the database's to hold). Only if the
        # row still holds that plain value, so a concurrent enrolment is not undone.
        async with self.engine.begin() as conn:
            await conn.execute(update(account).where(
                account.c.id == account_id, account.c.totp_secret == stored,
            ).values(totp_secret=self._sealed.seal(stored, account_id)))
        return stored

    async def enrol(self, account_id: str, secret: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(account).where(account.c.id == account_id)
                               .values(totp_secret=self._sealed.seal(secret, account_id)))
