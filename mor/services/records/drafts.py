"""Drafts of visit notes: what a clinician has typed and not yet signed, saved as they
type so that a closed browser or a dropped connection loses nothing. Each clinician has
their own draft of a visit; no one else reads it."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from mor.db.schema import visit_draft
from mor.fhir.timestamps import now_micros
from mor.services.records.visit_note import VisitNote, note_from_json


@dataclass(frozen=True, slots=True)
class Draft:
    note: VisitNote
    saved: int  # microseconds since 1970, UTC


class Drafts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def save(self, encounter_id: str, account_id: str, note: VisitNote) -> int:
        """Keep ``note`` as the clinician's draft of the visit, in place of the last one;
        returns when it was saved."""
        saved = now_micros()
        text = orjson.dumps(note.as_json()).decode()
        # Two tabs saving at the same moment: the one that loses the race saves again,
        # over the other's (the later typing wins, as it would in one tab).
        for attempt in range(3):
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(delete(visit_draft).where(
                        visit_draft.c.encounter_id == encounter_id,
                        visit_draft.c.account_id == account_id))
                    await conn.execute(visit_draft.insert().values(
                        encounter_id=encounter_id, account_id=account_id, note=text,
                        saved=saved))
                return saved
            except IntegrityError:
                if attempt == 2:
                    raise
        return saved

    async def get(self, encounter_id: str, account_id: str) -> Draft | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(visit_draft.c.note, visit_draft.c.saved).where(
                visit_draft.c.encounter_id == encounter_id,
                visit_draft.c.account_id == account_id))).first()
        if row is None:
            return None
        return Draft(note_from_json(orjson.loads(row.note)), row.saved)

    async def discard(self, encounter_id: str, account_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(visit_draft).where(
                visit_draft.c.encounter_id == encounter_id,
                visit_draft.c.account_id == account_id))
