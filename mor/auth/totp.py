"""The second factor of staff sign-in: time-based one-time passwords (TOTP, RFC 6238)
from an authenticator app, enrolled by scanning a QR code."""

from __future__ import annotations

import io
from typing import Final

import pyotp
import segno
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

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
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, account_id: str) -> str | None:
        async with self.engine.connect() as conn:
            secret = (await conn.execute(select(account.c.totp_secret).where(
                account.c.id == account_id))).scalar()
        return None if secret is None else str(secret)

    async def enrol(self, account_id: str, secret: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(account).where(account.c.id == account_id)
                               .values(totp_secret=secret))
