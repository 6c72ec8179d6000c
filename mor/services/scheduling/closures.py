"""Closing a health centre for a day (a holiday): every service of the centre is closed
that day (``HealthcareService.notAvailable``) and the day's free slots go. Appointments
already booked that day stay booked: the administrator is shown them, to call or move."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from mor.fhir.permissions import Caller
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.booking import ACTIVE_STATUSES, Booking, booking_of
from mor.services.scheduling.centres import get_centre
from mor.services.scheduling.lookup import find
from mor.services.scheduling.offered import ClosedDay, save_service, services_of
from mor.services.scheduling.slots import refresh_centre


async def close_day(store: Store, caller: Caller, centre_id: str, day: date, reason: str,
                    zone: ZoneInfo) -> list[Booking]:
    """Close the centre on ``day``; returns the appointments still booked that day."""
    for service in await services_of(store, centre_id, include_inactive=True):
        if not service.is_closed(day):
            await save_service(store, caller, replace(
                service, closed=(*service.closed, ClosedDay(day, reason.strip()))))
    await refresh_centre(store, centre_id, zone=zone)
    return await booked_on(store, centre_id, day, zone)


async def reopen_day(store: Store, caller: Caller, centre_id: str, day: date,
                     zone: ZoneInfo) -> None:
    for service in await services_of(store, centre_id, include_inactive=True):
        if service.is_closed(day):
            await save_service(store, caller, replace(
                service, closed=tuple(c for c in service.closed if c.day != day)))
    await refresh_centre(store, centre_id, zone=zone)


async def booked_on(store: Store, centre_id: str, day: date, zone: ZoneInfo
                    ) -> list[Booking]:
    centre = await get_centre(store, centre_id)
    begin = datetime.combine(day, datetime.min.time(), zone)
    async with store.reading(EVERYTHING) as tx:
        found = await find(tx, "Appointment", [
            ("actor", f"Location/{centre.location_id}"),
            ("status", ",".join(ACTIVE_STATUSES)), ("date", f"ge{begin.isoformat()}"),
            ("date", f"lt{(begin + timedelta(days=1)).isoformat()}"), ("_sort", "date")])
    return [booking_of(a) for a in found]
