"""Clearing away sign-in records whose time is over: expired tokens, authorization codes,
sign-in sessions, used client-assertion ids, unfinished registrations (which hold a
person's details: keeping them past their use is what PDPA's purpose limitation
forbids) and ended break-the-glass grants. Each is refused once expired anyway; this
keeps the tables small and the personal data they hold short-lived. The AuditEvents
that recorded their use stay."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from mor.db.schema import (
    break_glass,
    login_session,
    oauth_assertion,
    oauth_code,
    oauth_token,
    registration,
)
from mor.fhir.timestamps import now_micros

_HOUR: Final = 3600 * 1_000_000
# Kept a little past expiry, so no clock step between processes makes a valid one vanish.
_GRACE: Final = {oauth_token: _HOUR, oauth_code: _HOUR, login_session: _HOUR,
                 oauth_assertion: _HOUR, registration: _HOUR,
                 # A grant that ended is evidence for whoever reviews the emergency.
                 break_glass: 90 * 24 * _HOUR}
EVERY_SECONDS: Final = 3600
log = logging.getLogger(__name__)


async def purge_expired(engine: AsyncEngine, now: int | None = None) -> dict[str, int]:
    """Delete what expired; returns how many rows went from each table."""
    now = now_micros() if now is None else now
    removed: dict[str, int] = {}
    async with engine.begin() as conn:
        for table, grace in _GRACE.items():
            result = await conn.execute(delete(table).where(table.c.expires < now - grace))
            removed[table.name] = result.rowcount
    return removed


async def purge_forever(engine: AsyncEngine, every_seconds: float = EVERY_SECONDS) -> None:
    """Each server process purges once an hour; deleting twice is harmless."""
    while True:
        try:
            removed = await purge_expired(engine)
        except Exception:  # the next round tries again; serving must not stop for this
            log.exception("Clearing expired sign-in records failed")
        else:
            if any(removed.values()):
                log.info("Cleared expired sign-in records: %s", removed)
        await asyncio.sleep(every_seconds)
