"""Slots: a roster entry's weekly hours cut to the service's slot length, for the days
ahead, as ``Slot`` resources a patient books one each.

Slots are made, never typed in: :func:`refresh_slots` makes those of the coming weeks
that are missing, and removes free ones the roster no longer has (a changed shift, a
closed day). Their ids are derived from the schedule, the time and the place within the
slot's capacity, so making them twice makes nothing new. A booked slot is never removed:
the administrator sees the bookings a change leaves outside the roster."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from mor.fhir.store import Store, prepare_new
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.codes import DAYS_OF_WEEK
from mor.services.scheduling.lookup import find, reference_id
from mor.services.scheduling.offered import Service, get_service
from mor.services.scheduling.rosters import Shift, shifts_of

DEFAULT_HORIZON_DAYS: Final = 28
KEEP_AHEAD_SECONDS: Final = 6 * 3600
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Refreshed:
    made: int
    removed: int


def planned_slots(schedule_id: str, shifts: tuple[Shift, ...], service: Service,
                  first_day: date, days: int, zone: ZoneInfo) -> list[PlannedSlot]:
    """The slots a roster entry has from ``first_day`` for ``days`` days."""
    length = timedelta(minutes=service.slot_minutes)
    planned = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        if service.is_closed(day):
            continue
        for shift in shifts:
            if DAYS_OF_WEEK[day.weekday()] not in shift.days:
                continue
            start = datetime.combine(day, shift.start, zone)
            end_of_shift = datetime.combine(day, shift.end, zone)
            while start + length <= end_of_shift:
                for place in range(service.capacity):
                    planned.append(PlannedSlot(
                        f"{schedule_id}-{start:%Y%m%d%H%M}-{place}", start, start + length))
                start += length
    return planned


async def refresh_slots(store: Store, schedule_id: str, *, zone: ZoneInfo,
                        today: date | None = None,
                        horizon_days: int = DEFAULT_HORIZON_DAYS) -> Refreshed:
    """Make the schedule's slots from today for ``horizon_days`` match its roster."""
    today = today or datetime.now(zone).date()
    async with store.reading(EVERYTHING) as tx:
        schedules = await find(tx, "Schedule", [("_id", schedule_id)], limit=1)
        if not schedules:
            raise LookupError(f"There is no Schedule/{schedule_id}")
        schedule = schedules[0]
        role_id = next((i for a in schedule.get("actor") or ()
                        if (i := reference_id(a, "PractitionerRole"))), None)
        service_id = next((i for a in schedule.get("actor") or ()
                           if (i := reference_id(a, "HealthcareService"))), None)
        roles = await find(tx, "PractitionerRole", [("_id", role_id or "-")], limit=1)
    if not roles or service_id is None:
        raise LookupError(f"Schedule/{schedule_id} names no roster entry")
    service = await get_service(store, service_id)
    active = (schedule.get("active", True) and roles[0].get("active", True)
              and service.active)
    wanted = {p.id: p for p in planned_slots(schedule_id, shifts_of(roles[0]), service,
                                             today, horizon_days, zone)} if active else {}
    since = datetime.combine(today, datetime.min.time(), zone).isoformat()
    async with store.writing(EVERYTHING) as tx:
        # Every server process keeps the slots ahead (keep_ahead_forever): one at a time.
        await tx.lock_criteria("Slot", f"schedule=Schedule/{schedule_id}")
        existing = await find(tx, "Slot", [("schedule", f"Schedule/{schedule_id}"),
                                           ("start", f"ge{since}")])
        have = {s["id"]: s for s in existing}
        made = [prepare_new(_slot(p, schedule), p.id)
                for p in wanted.values() if p.id not in have]
        if made:
            await tx.insert_new(made)
        removed = 0
        for slot_id, slot in have.items():
            if slot_id not in wanted and slot.get("status") == "free":
                await tx.delete("Slot", slot_id)
                removed += 1
        if active:
            horizon_end = datetime.combine(today + timedelta(days=horizon_days),
                                           datetime.min.time(), zone)
            schedule = {**schedule, "planningHorizon": {
                "start": since, "end": horizon_end.isoformat()}}
            await tx.update("Schedule", schedule_id, schedule)
    return Refreshed(len(made), removed)


async def refresh_centre(store: Store, centre_id: str, *, zone: ZoneInfo,
                         today: date | None = None,
                         horizon_days: int = DEFAULT_HORIZON_DAYS) -> Refreshed:
    """Refresh the slots of every schedule at a centre (after a closed day, say)."""
    async with store.reading(EVERYTHING) as tx:
        roles = await find(tx, "PractitionerRole", [
            ("organization", f"Organization/{centre_id}"), ("service:missing", "false")])
        schedules = await find(tx, "Schedule", [
            ("actor", ",".join(f"PractitionerRole/{r['id']}" for r in roles))]) if roles else []
    made = removed = 0
    for schedule in schedules:
        done = await refresh_slots(store, schedule["id"], zone=zone, today=today,
                                   horizon_days=horizon_days)
        made, removed = made + done.made, removed + done.removed
    return Refreshed(made, removed)


async def refresh_all(store: Store, *, zone: ZoneInfo, today: date | None = None,
                      horizon_days: int = DEFAULT_HORIZON_DAYS) -> Refreshed:
    """Refresh every active schedule of the city: the days ahead move on each day."""
    async with store.reading(EVERYTHING) as tx:
        schedules = await find(tx, "Schedule", [("active", "true")])
    made = removed = 0
    for schedule in schedules:
        try:
            done = await refresh_slots(store, schedule["id"], zone=zone, today=today,
                                       horizon_days=horizon_days)
        except LookupError:
            continue  # a schedule of no roster entry (written by another system)
        made, removed = made + done.made, removed + done.removed
    return Refreshed(made, removed)


async def keep_ahead_forever(store: Store, zone: ZoneInfo) -> None:
    """Each few hours, the slots of the coming weeks for every roster entry."""
    while True:
        try:
            await refresh_all(store, zone=zone)
        except Exception:  # a failed round must not end the slots of the weeks ahead
            log.exception("making the slots of the coming weeks failed; trying again later")
        await asyncio.sleep(KEEP_AHEAD_SECONDS)


def _slot(planned: PlannedSlot, schedule: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Slot", "status": "free",
        "schedule": {"reference": f"Schedule/{schedule['id']}"},
        "serviceType": schedule.get("serviceType") or [],
        "start": planned.start.isoformat(), "end": planned.end.isoformat(),
    }
