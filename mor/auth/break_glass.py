"""Break the glass: a clinician reaches a patient outside their health centre, without
the patient's consent, because care cannot wait (an unconscious patient brought to
another centre, a referral at night).

It takes a reason, lasts an hour, and is loud: the opening and every access under it
are AuditEvents with purpose of use ``BTG`` (HL7 v3 ActReason "break the glass") and the
reason, in the patient's own compartment, so the patient and auditors see it.
"""

from __future__ import annotations

import uuid
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from mor.auth.accounts import Account
from mor.auth.roles import CLINICAL_ROLES
from mor.db.schema import break_glass
from mor.fhir.errors import BadRequest, Forbidden
from mor.fhir.timestamps import now_micros

MINUTES: Final = 60
MIN_REASON_LENGTH: Final = 15
BTG: Final = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG",
              "display": "break the glass"}


class BreakGlass:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def open(self, account: Account, patient_id: str, reason: str) -> int:
        """Start emergency access; returns when it ends (microseconds since 1970)."""
        if account.role not in CLINICAL_ROLES:
            raise Forbidden("Only doctors, nurses and pharmacists may break the glass")
        reason = reason.strip()
        if len(reason) < MIN_REASON_LENGTH:
            raise BadRequest(f"Say why care cannot wait for the patient's consent (at least "
                             f"{MIN_REASON_LENGTH} characters): the reason is kept with "
                             "every access")
        now = now_micros()
        expires = now + MINUTES * 60 * 1_000_000
        async with self.engine.begin() as conn:
            await conn.execute(break_glass.insert().values(
                id=str(uuid.uuid4()), account_id=account.id, patient_id=patient_id,
                reason=reason, started=now, expires=expires))
        return expires

    async def active(self, account_id: str) -> dict[str, str]:
        """The patients this account reaches by breaking the glass now, with the reason."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                select(break_glass.c.patient_id, break_glass.c.reason)
                .where(break_glass.c.account_id == account_id,
                       break_glass.c.expires > now_micros())
                .order_by(break_glass.c.started))).all()
        return {row[0]: row[1] for row in rows}
