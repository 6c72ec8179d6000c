"""The background watcher: whatever wrote a reading (the patient's page, a meter export,
a device gateway through the FHIR API, a bulk import), its plan's rules run.

It reads the Observations changed since its cursor, a little before it too: a write that
committed late with an earlier time is still seen, and the rules are idempotent, so
seeing a reading twice changes nothing. The cursor is kept in the database, so after a
restart the watcher resumes where it stopped. Once an hour it also runs the plans that may
have a gap (no readings for days), and once a day sends the reminders that are due.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import select

from mor.db.schema import watch_cursor
from mor.fhir.search.referenced import references_of_matches
from mor.fhir.store import Store
from mor.fhir.timestamps import instant_from_micros, now_micros
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.alerts import evaluate_patient, evaluate_plan
from mor.services.monitoring.codes import LOINC, READING_KINDS
from mor.services.monitoring.plans import PLAN_SEARCH
from mor.services.monitoring.rules import WATCHED_GAPS
from mor.services.scheduling.lookup import find, reference_id

log = logging.getLogger(__name__)

CURSOR: Final = "home-readings"
POLL_SECONDS: Final = 5.0
GAPS_EVERY: Final = timedelta(hours=1)
# A reading this recent leaves no gap: no plan waits less than a day (thresholds).
_FRESH: Final = timedelta(days=1)
_PATIENTS_AT_ONCE: Final = 1000
# Later than any write still in flight when the watcher looked.
_OVERLAP_MICROS: Final = 60_000_000
_PAGE: Final = 1000
_CODES: Final = ",".join(f"{LOINC}|{kind.loinc}" for kind in READING_KINDS.values())

# Sends the day's reminders; see mor.services.monitoring.due_reminders.
RemindDue = Callable[[datetime], Awaitable[int]]


async def read_cursor(store: Store) -> int | None:
    async with store.reading(EVERYTHING) as tx:
        return (await tx.conn.execute(select(watch_cursor.c.position).where(
            watch_cursor.c.name == CURSOR))).scalar()


async def _save_cursor(store: Store, position: int) -> None:
    async with store.writing(EVERYTHING) as tx:
        done = await tx.conn.execute(watch_cursor.update().where(
            watch_cursor.c.name == CURSOR).values(position=position))
        if done.rowcount == 0:
            await tx.conn.execute(watch_cursor.insert().values(name=CURSOR, position=position))


async def watch_once(store: Store, *, now: datetime | None = None) -> int:
    """Run the rules for every patient with readings changed since the cursor; returns how
    many patients' plans ran."""
    position = await read_cursor(store)
    started = now_micros()
    if position is None:
        position = started - _OVERLAP_MICROS  # a new instance: from now on
    after = position - _OVERLAP_MICROS
    patients: set[str] = set()
    newest = position
    while True:
        async with store.reading(EVERYTHING) as tx:
            found = await find(tx, "Observation", [
                ("code", _CODES), ("_lastUpdated", f"gt{instant_from_micros(after)}"),
                ("_sort", "_lastUpdated")], limit=_PAGE)
        for observation in found:
            patient = reference_id(observation.get("subject"), "Patient")
            if patient:
                patients.add(patient)
        if len(found) < _PAGE:
            break
        last = (found[-1].get("meta") or {}).get("lastUpdated")
        moved = _micros(last) if last else None
        if moved is None or moved <= after:
            break
        after = moved
        newest = max(newest, moved)
    for patient in sorted(patients):
        await evaluate_patient(store, patient, now=now or datetime.now().astimezone())
    await _save_cursor(store, max(newest, started - _OVERLAP_MICROS))
    return len(patients)


def _micros(instant: str) -> int:
    moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1_000_000)


async def check_gaps(store: Store, *, now: datetime) -> int:
    """Run the rules, for the readings that did not come, on every active plan that could
    have a gap; returns how many plans ran.

    A plan whose patient took a reading of each kind it chases in the last day cannot
    (the fewest days a plan may wait is one), and every reading already ran its plan's
    rules as it came. So of a centre's 20,000 plans, those of the few who did not send
    yesterday's reading run, not all: each is a transaction of its own."""
    since = (now - _FRESH).isoformat(timespec="seconds")
    due: set[str] = set()
    async with store.reading(EVERYTHING) as tx:
        for kind in WATCHED_GAPS:
            code = f"{LOINC}|{READING_KINDS[kind].loinc}"
            plans = await references_of_matches(
                tx, "CarePlan", [*PLAN_SEARCH, ("activity-code", code)],
                reference="subject", target_type="Patient")
            patients = sorted({patient for _, patient in plans})
            fresh: set[str] = set()
            # By patient: a day's readings of everyone are a range of no index (a date
            # "since" bounds only the end of each stored range), a day of one patient's
            # are (idx_patient_date).
            for first in range(0, len(patients), _PATIENTS_AT_ONCE):
                fresh |= {patient for _, patient in await references_of_matches(
                    tx, "Observation", [
                        ("patient", ",".join(f"Patient/{p}" for p in
                                             patients[first:first + _PATIENTS_AT_ONCE])),
                        ("code", code), ("date", f"ge{since}"),
                        ("status:not", "entered-in-error,cancelled")],
                    reference="patient", target_type="Patient")}
            due |= {plan for plan, patient in plans if patient not in fresh}
    for plan_id in sorted(due):
        await evaluate_plan(store, plan_id, now=now)
    return len(due)


async def watch_forever(store: Store, zone: ZoneInfo, remind_due: RemindDue | None = None
                        ) -> None:
    gaps_checked: datetime | None = None
    while True:
        try:
            now = datetime.now(zone)
            await watch_once(store, now=now)
            if gaps_checked is None or now - gaps_checked >= GAPS_EVERY:
                gaps_checked = now
                await check_gaps(store, now=now)
                if remind_due is not None:
                    await remind_due(now)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bad round must not stop the next
            log.exception("watching home readings failed; trying again shortly")
        await asyncio.sleep(POLL_SECONDS)
