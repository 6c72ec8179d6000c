"""Closing a health centre for a day (a holiday): every service of the centre is closed
that day (``HealthcareService.notAvailable``) and the day's free slots go. Appointments
already booked that day stay booked: the administrator is shown them, to call and move,
or to cancel all at once (cancel_booked_on), each patient told by the message senders."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.access_records import record_with_write
from mor.fhir.permissions import Access, Caller
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.booking import (
    ACTIVE_STATUSES,
    CANCELLATION_REASONS,
    Booking,
    booking_of,
)
from mor.services.scheduling.centres import get_centre
from mor.services.scheduling.lookup import find, reference_id
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


async def cancel_booked_on(store: Store, caller: Principal, centre_id: str, day: date,
                           reason: str, zone: ZoneInfo) -> list[Booking]:
    """Cancel, as a centre administrator, the appointments still booked on a day the
    centre is closed; returns those cancelled, for their patients to be told. Their
    slots become ``busy-unavailable``, not free: the centre is closed then.

    Administrators write no patient records through the FHIR API; this one change of
    the centre's own schedule is done for them here, as booking does for patients, and
    audited as theirs."""
    account = caller.account
    if account is None or not (account.role is Role.CITY_ADMIN or (
            account.role is Role.CENTRE_ADMIN and centre_id in account.organizations)):
        raise ValueError("only the centre's administrators, or the city's, cancel its "
                         "closed day's appointments")
    if not any(s.is_closed(day) for s in await services_of(store, centre_id,
                                                           include_inactive=True)):
        raise ValueError("appointments are cancelled this way only on a day the centre "
                         "is closed")
    cancelled = []
    for booking in await booked_on(store, centre_id, day, zone):
        # One transaction per appointment: each patient's cancellation is whole or not at
        # all, and one that fails leaves the others done.
        async with store.writing(EVERYTHING) as tx:
            stored = await tx.read("Appointment", booking.appointment_id)
            appointment = stored.resource()
            if appointment.get("status") not in ACTIVE_STATUSES:
                continue  # the patient cancelled or moved it meanwhile
            changed = appointment | {
                "status": "cancelled", "cancelationReason": {
                    "coding": [CANCELLATION_REASONS["provider"]], "text": reason.strip()
                    or "The health centre is closed on this day"}}
            await tx.update("Appointment", booking.appointment_id, changed,
                            if_match=stored.version_id)
            for slot_id in (reference_id(r, "Slot") for r in appointment.get("slot") or ()):
                if slot_id is None:
                    continue
                slot = await tx.read("Slot", slot_id)
                await tx.update("Slot", slot_id, slot.resource()
                    | {"status": "busy-unavailable"}, if_match=slot.version_id)
            await record_with_write(tx, caller, Access(
                "PUT", f"Appointment/{booking.appointment_id}", "", 200))
        cancelled.append(booking_of(changed))
    return cancelled
