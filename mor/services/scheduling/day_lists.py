"""The day at a health centre: the clinicians' list of today's appointments, marking who
arrived, was seen or did not come; and the day's figures for the centre's administrator.

A clinician sees the appointments booked at the centres they work at, with each
patient's name: booking there is what brings the patient to them, even one registered
with another centre. The list is read outside the FHIR API, so each showing is recorded
(an AuditEvent naming the patients shown); a change of status is recorded with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from mor.auth import audit
from mor.auth.policy import Principal
from mor.auth.roles import CLINICAL_ROLES, Role
from mor.fhir.access_records import record_with_write
from mor.fhir.errors import Gone, NotFound
from mor.fhir.permissions import Access
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.messages import N_
from mor.services.person_names import display_name
from mor.services.scheduling.booking import Booking, booking_of
from mor.services.scheduling.centres import get_centre
from mor.services.scheduling.lookup import find
from mor.services.scheduling.rosters import practitioner_name

# What a clinician may mark an appointment as, from the statuses FHIR defines.
MARKS: Final = ("arrived", "fulfilled", "noshow")
_MARKABLE_FROM: Final = frozenset({"booked", "arrived", "checked-in"})
_FIGURE_ROLES: Final = CLINICAL_ROLES | {Role.CENTRE_ADMIN}


class NotYourCentre(PermissionError):
    """The person does not work at this health centre."""


@dataclass(frozen=True, slots=True)
class Visit:
    booking: Booking
    patient_name: str
    clinician_name: str


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: date
    booked: int  # still to come, or waiting
    attended: int
    no_show: int
    cancelled: int


def centres_of(staff: Principal) -> tuple[str, ...]:
    return staff.account.organizations if staff.account else ()


async def day_list(store: Store, staff: Principal, centre_id: str, day: date,
                   zone: ZoneInfo) -> list[Visit]:
    """The centre's appointments of the day that are not cancelled, by time."""
    _check_works_at(staff, centre_id, CLINICAL_ROLES)
    appointments = [a for a in await _appointments(store, centre_id, day, zone)
                    if a["status"] not in ("cancelled", "entered-in-error")]
    bookings = [booking_of(a) for a in appointments]
    patient_ids = sorted({b.patient_id for b in bookings if b.patient_id})
    practitioner_ids = sorted({b.practitioner_id for b in bookings if b.practitioner_id})
    async with store.reading(EVERYTHING) as tx:
        patients = await find(tx, "Patient", [("_id", ",".join(patient_ids))]
                              ) if patient_ids else []
        practitioners = await find(tx, "Practitioner", [
            ("_id", ",".join(practitioner_ids))]) if practitioner_ids else []
    if patient_ids:
        assert staff.account is not None
        await store.append(audit.patients_shown_event(
            agent=audit.person_agent(staff.account.fhir_user, staff.account.username,
                                     staff.address), patients=patient_ids))
    patient_names = {p["id"]: display_name(p) for p in patients}
    clinician_names = {p["id"]: practitioner_name(p) for p in practitioners}
    return [Visit(b, patient_names.get(b.patient_id, ""),
                  clinician_names.get(b.practitioner_id or "", "")) for b in bookings]


async def mark(store: Store, staff: Principal, centre_id: str, appointment_id: str,
               status: str) -> Booking:
    """Mark an appointment at the centre arrived, seen (fulfilled) or not come (noshow)."""
    _check_works_at(staff, centre_id, CLINICAL_ROLES)
    if status not in MARKS:
        raise ValueError(f"{status!r} is not one of {', '.join(MARKS)}")
    centre = await get_centre(store, centre_id)
    async with store.writing(EVERYTHING) as tx:
        try:
            stored = await tx.read("Appointment", appointment_id)
        except (NotFound, Gone):
            raise LookupError(N_("There is no such appointment")) from None
        appointment = stored.resource()
        if booking_of(appointment).location_id != centre.location_id:
            raise LookupError(N_("There is no such appointment"))
        if appointment["status"] not in _MARKABLE_FROM:
            raise ValueError(N_("This appointment was cancelled or closed already"))
        changed = appointment | {"status": status}
        updated, _ = await tx.update("Appointment", appointment_id, changed,
                                     if_match=stored.version_id)
        await record_with_write(tx, staff, Access(
            "PUT", f"Appointment/{appointment_id}", "", 200))
    return booking_of(updated.resource())


async def figures(store: Store, staff: Principal, centre_id: str, days: list[date],
                  zone: ZoneInfo) -> list[DayFigures]:
    """Counts of the centre's appointments on each of ``days`` (consecutive): no names, so
    for the centre's administrator too. One search covers them all."""
    _check_works_at(staff, centre_id, _FIGURE_ROLES)
    counted: dict[date, Counter[str]] = {day: Counter() for day in days}
    if days:
        for appointment in await _appointments(store, centre_id, days[0], zone,
                                               days=len(days)):
            day = datetime.fromisoformat(appointment["start"]).astimezone(zone).date()
            if day in counted:
                counted[day][appointment["status"]] += 1
    return [DayFigures(day, c["booked"] + c["arrived"] + c["checked-in"], c["fulfilled"],
                       c["noshow"], c["cancelled"]) for day, c in counted.items()]


async def latest_change(store: Store, staff: Principal, centre_id: str, day: date,
                        zone: ZoneInfo) -> str:
    """A token that changes whenever the day's list does: for pages that refresh it."""
    _check_works_at(staff, centre_id, _FIGURE_ROLES)
    appointments = await _appointments(store, centre_id, day, zone)
    return ";".join(sorted(f"{a['id']}:{a.get('meta', {}).get('versionId', '')}"
                           for a in appointments))


async def _appointments(store: Store, centre_id: str, day: date, zone: ZoneInfo, *,
                        days: int = 1) -> list[dict[str, Any]]:
    """The centre's appointments from the start of ``day`` for ``days`` days, by time."""
    centre = await get_centre(store, centre_id)
    begin = datetime.combine(day, datetime.min.time(), zone)
    async with store.reading(EVERYTHING) as tx:
        return await find(tx, "Appointment", [
            ("actor", f"Location/{centre.location_id}"),
            ("date", f"ge{begin.isoformat()}"),
            ("date", f"lt{(begin + timedelta(days=days)).isoformat()}"), ("_sort", "date")])


def _check_works_at(staff: Principal, centre_id: str, roles: frozenset[Role]) -> None:
    if staff.account is None or staff.account.role not in roles or (
            centre_id not in centres_of(staff)):
        raise NotYourCentre(N_("This list is for the staff of this health centre"))

