"""The table-backed job queue under bulk export and import: a kick-off records a job and
answers at once; a worker inside each mor process claims waiting jobs, beats a heartbeat
while it works, and takes over a job whose worker went silent (a restart, a crash), so an
accepted job is never lost. Deleting the job's row cancels it: the next heartbeat sees
it gone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from sqlalchemy import Table, or_, select, update

from mor.fhir.errors import NotFound
from mor.fhir.store import Store
from mor.fhir.timestamps import now_micros
from mor.fhir.visibility import EVERYTHING

log = logging.getLogger(__name__)

POLL_SECONDS: Final = 1.0
# A worker refreshes its job's heartbeat as it goes; one silent this long has died.
STALE_MICROS: Final = 60_000_000


class Cancelled(Exception):
    """The job was deleted while it ran."""


class JobQueue:
    """Jobs in ``table``, which has the columns id, status (accepted, in-progress,
    completed, failed), heartbeat, progress, output and error."""

    def __init__(self, store: Store, table: Table, kind: str) -> None:
        self.store = store
        self.table = table
        self.kind = kind  # "export", "import": for messages
        self._wake = asyncio.Event()

    async def add(self, **values: Any) -> None:
        async with self.store.writing(EVERYTHING) as tx:
            await tx.conn.execute(self.table.insert().values(status="accepted", **values))
        self._wake.set()

    async def get(self, job_id: str) -> Any:
        async with self.store.reading(EVERYTHING) as tx:
            row = (await tx.conn.execute(
                select(self.table).where(self.table.c.id == job_id))).first()
        if row is None:
            raise NotFound(f"There is no {self.kind} {job_id}: it never existed, or was "
                           "deleted")
        return row

    async def delete(self, job_id: str) -> None:
        async with self.store.writing(EVERYTHING) as tx:
            await tx.conn.execute(self.table.delete().where(self.table.c.id == job_id))

    async def run_forever(self, run: Callable[[str], Awaitable[None]]) -> None:
        while True:
            try:
                job_id = await self.claim()
                if job_id is not None:
                    await run(job_id)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("The bulk %s worker failed; it will try again", self.kind)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def claim(self) -> str | None:
        """A waiting job (or one whose worker died), now this worker's."""
        job = self.table.c
        now = now_micros()
        waiting = or_(job.status == "accepted",
                      (job.status == "in-progress") & (job.heartbeat < now - STALE_MICROS))
        async with self.store.writing(EVERYTHING) as tx:
            candidate = (await tx.conn.execute(
                select(job.id).where(waiting).limit(1))).scalar()
            if candidate is None:
                return None
            claimed = await tx.conn.execute(
                update(self.table).where(job.id == candidate, waiting)
                .values(status="in-progress", heartbeat=now, progress="starting"))
            return str(candidate) if claimed.rowcount == 1 else None

    async def heartbeat(self, job_id: str, progress: str) -> None:
        """Raises Cancelled once the job is gone."""
        async with self.store.writing(EVERYTHING) as tx:
            result = await tx.conn.execute(
                update(self.table).where(self.table.c.id == job_id)
                .values(heartbeat=now_micros(), progress=progress))
        if result.rowcount == 0:
            raise Cancelled

    async def finish(self, job_id: str, status: str, *, output: str | None = None,
                     error: str | None = None) -> None:
        async with self.store.writing(EVERYTHING) as tx:
            await tx.conn.execute(
                update(self.table).where(self.table.c.id == job_id)
                .values(status=status, output=output, error=error, heartbeat=now_micros(),
                        progress=None))
