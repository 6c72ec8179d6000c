"""Booking: a patient takes a free slot for an ``Appointment``, moves it to another
slot, or cancels it, which frees the slot at once.

A slot is booked once, however many press "book" together: the booking changes the
Slot from free to busy on the version it read (``If-Match``), and the store queues
concurrent writers of one resource (a row lock on PostgreSQL, SQLite's write lock), so
the second finds the slot changed and is told it is taken, with the next free times.
The Slot and the Appointment change in one transaction with its audit record.

Each change of an Appointment is a new version of it, so its ``_history`` is the
status history a FHIR client reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.access_records import record_with_write
from mor.fhir.errors import Gone, NotFound, PreconditionFailed
from mor.fhir.permissions import Access
from mor.fhir.store import Store, Transaction
from mor.fhir.timestamps import instant_from_micros, now_micros
from mor.fhir.visibility import EVERYTHING
from mor.messages import N_
from mor.services import fhir_calls
from mor.services.scheduling import lookup
from mor.services.scheduling.codes import SERVICE_KINDS_SYSTEM
from mor.services.scheduling.lookup import find, first_per_sort_value, reference_id
from mor.services.scheduling.offered import MAX_SLOT_MINUTES, read_service

# What a patient is shown when the time they chose went: enough to choose again.
NEXT_FREE_SHOWN: Final = 6
# Appointments that still take a place in the day.
ACTIVE_STATUSES: Final = ("booked", "arrived", "checked-in")
_CANCELLATION: Final = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
CANCELLATION_REASONS: Final = {
    "patient": {"system": _CANCELLATION, "code": "pat", "display": "Patient"},
    "provider": {"system": _CANCELLATION, "code": "prov", "display": "Provider"},
}
# How an Appointment says it is by video, as US Core's telehealth example does: a
# serviceType beside the service's own kind.
TELEHEALTH: Final = {"system": "http://snomed.info/sct", "code": "448337001",
                     "display": "Telehealth consultation with patient"}


@dataclass(frozen=True, slots=True)
class FreeTime:
    start: datetime
    end: datetime
    slot_id: str  # one free slot at this time; others may be free too


@dataclass(frozen=True, slots=True)
class Booking:
    appointment_id: str
    status: str
    start: datetime
    end: datetime
    patient_id: str
    service_id: str | None
    location_id: str | None
    practitioner_id: str | None
    slot_id: str | None
    kind: str | None  # the service kind, a key of SERVICE_KINDS
    video: bool = False  # a video consultation (else at the centre)


class BookingRefused(Exception):
    """The booking was not made; ``reason`` (translatable) says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SlotTaken(BookingRefused):
    """Someone else booked the time first; ``next_free`` are the next free times."""

    def __init__(self, next_free: list[FreeTime]) -> None:
        super().__init__(N_("Someone else has just booked this time. Here are the next "
                            "free times."))
        self.next_free = next_free


async def schedules_of(store: Store, service_id: str) -> list[str]:
    async with store.reading(EVERYTHING) as tx:
        return await _active_schedules(tx, service_id)


async def _active_schedules(tx: Transaction, service_id: str) -> list[str]:
    return await lookup.ids(tx, "Schedule", [
        ("actor", f"HealthcareService/{service_id}"), ("active", "true")])


async def free_times(store: Store, service_id: str, start: datetime, end: datetime,
                     *, limit: int | None = None) -> list[FreeTime]:
    """The times a service has a free slot from ``start`` until ``end``, earliest first,
    one per time."""
    async with store.reading(EVERYTHING) as tx:
        service = await read_service(tx, service_id)
        schedules = await _active_schedules(tx, service_id)
        if not schedules:
            return []
        params = [("schedule", ",".join(f"Schedule/{s}" for s in schedules)),
                  ("status", "free"), ("start", f"ge{start.isoformat()}"),
                  ("start", f"lt{end.isoformat()}"), ("_sort", "start")]
        firsts = await first_per_sort_value(tx, "Slot", params, limit=limit)
    length = timedelta(minutes=service.slot_minutes)
    zone = start.tzinfo
    return [FreeTime(at, at + length, slot_id) for slot_id, micros in firsts
            for at in [datetime.fromtimestamp(micros / 1_000_000, zone)]]


async def book(store: Store, caller: Principal, patient_id: str, slot_id: str, *,
               video: bool = False) -> Booking:
    """Book the slot for the patient, at the centre or by ``video``; raises SlotTaken when
    it went meanwhile. A nurse or doctor books for a patient whose record they may see
    (a home reading that needs a consultation)."""
    if caller.account is not None and caller.account.role in _BOOK_FOR_PATIENTS:
        await _check_sees_patient(store, caller, patient_id)
    else:
        _check_may_book(caller, patient_id)
    try:
        async with store.writing(EVERYTHING) as tx:
            slot, version = await _free_slot(tx, slot_id)
            await _check_no_clash(tx, patient_id, slot, ignore=None)
            await _take(tx, slot_id, slot, version)
            appointment = await _appointment(tx, patient_id, slot_id, slot, video=video)
            stored = await tx.create(appointment)
            await _register_at_centre(tx, patient_id, appointment)
            await record_with_write(tx, caller, Access("POST", "Appointment", "", 201))
    except _Taken as taken:
        raise SlotTaken(await _next_free(store, taken.slot)) from None
    return booking_of(stored.resource())


async def reschedule(store: Store, caller: Principal, patient_id: str,
                     appointment_id: str, slot_id: str) -> Booking:
    """Move a booked appointment to another free slot; the old slot is freed."""
    _check_may_book(caller, patient_id)
    try:
        async with store.writing(EVERYTHING) as tx:
            current, appointment = await _own_appointment(tx, patient_id, appointment_id)
            slot, version = await _free_slot(tx, slot_id)
            await _check_no_clash(tx, patient_id, slot, ignore=appointment_id)
            await _take(tx, slot_id, slot, version)
            await _free_slots_of(tx, appointment)
            moved = await _appointment(tx, patient_id, slot_id, slot,
                                       video=is_video(appointment))
            changed = {**appointment, **{k: moved[k] for k in (
                "slot", "start", "end", "participant", "serviceType", "minutesDuration")}}
            stored, _ = await tx.update("Appointment", appointment_id, changed,
                                        if_match=current)
            await record_with_write(tx, caller, Access(
                "PUT", f"Appointment/{appointment_id}", "", 200))
    except _Taken as taken:
        raise SlotTaken(await _next_free(store, taken.slot)) from None
    return booking_of(stored.resource())


async def cancel(store: Store, caller: Principal, patient_id: str, appointment_id: str
                 ) -> Booking:
    """Cancel a booked appointment; its slot is free again at once."""
    _check_may_book(caller, patient_id)
    async with store.writing(EVERYTHING) as tx:
        current, appointment = await _own_appointment(tx, patient_id, appointment_id)
        await _free_slots_of(tx, appointment)
        appointment = {**appointment, "status": "cancelled",
                       "cancelationReason": {"coding": [CANCELLATION_REASONS["patient"]]}}
        stored, _ = await tx.update("Appointment", appointment_id, appointment,
                                    if_match=current)
        await record_with_write(tx, caller, Access(
            "PUT", f"Appointment/{appointment_id}", "", 200))
    return booking_of(stored.resource())


async def appointments_of(store: Store, caller: Principal, patient_id: str
                          ) -> list[Booking]:
    """The patient's appointments, newest first, as the patient (or family member
    acting for them) sees them; the reading is audited."""
    _check_may_book(caller, patient_id)
    async with store.writing(EVERYTHING) as tx:
        found = await find(tx, "Appointment", [
            ("actor", f"Patient/{patient_id}"), ("_sort", "-date")], limit=500)
        await record_with_write(tx, caller, Access(
            "GET", "Appointment", f"actor=Patient/{patient_id}", 200))
    return [booking_of(a) for a in found]


async def queue_position(store: Store, booking: Booking, zone: ZoneInfo, *,
                         today: date | None = None) -> int | None:
    """On the day of a booked appointment: how many of the same clinician's patients
    come before it that day and have not been seen yet. None on other days."""
    day = booking.start.astimezone(zone).date()
    if booking.status not in ACTIVE_STATUSES or day != (today or datetime.now(zone).date()):
        return None
    begin = datetime.combine(day, datetime.min.time(), zone)
    actor = (f"Practitioner/{booking.practitioner_id}" if booking.practitioner_id
             else f"Location/{booking.location_id}")
    async with store.reading(EVERYTHING) as tx:
        found = await find(tx, "Appointment", [
            ("actor", actor), ("status", ",".join(ACTIVE_STATUSES)),
            ("date", f"ge{begin.isoformat()}"),
            ("date", f"lt{(begin + timedelta(days=1)).isoformat()}")], limit=1000)
    return sum(1 for a in found if a["id"] != booking.appointment_id
               and datetime.fromisoformat(a["start"]) < booking.start)


def booking_of(appointment: dict[str, Any]) -> Booking:
    actors = [p.get("actor") for p in appointment.get("participant") or ()]
    kinds = [c.get("code") for t in appointment.get("serviceType") or ()
             for c in t.get("coding") or () if c.get("system") == SERVICE_KINDS_SYSTEM]
    slots = [reference_id(s, "Slot") for s in appointment.get("slot") or ()]
    return Booking(
        appointment["id"], appointment["status"],
        datetime.fromisoformat(appointment["start"]), datetime.fromisoformat(
            appointment["end"]),
        _first(actors, "Patient") or "", _first(actors, "HealthcareService"),
        _first(actors, "Location"), _first(actors, "Practitioner"),
        slots[0] if slots else None, str(kinds[0]) if kinds else None,
        is_video(appointment))


def is_video(appointment: dict[str, Any]) -> bool:
    return any(c.get("system") == TELEHEALTH["system"] and c.get("code") == TELEHEALTH["code"]
               for t in appointment.get("serviceType") or () for c in t.get("coding") or ())


def _first(references: list[Any], resource_type: str) -> str | None:
    return next((i for r in references if (i := reference_id(r, resource_type))), None)


class _Taken(Exception):
    def __init__(self, slot: dict[str, Any]) -> None:
        super().__init__("taken")
        self.slot = slot


_BOOK_FOR_PATIENTS: Final = frozenset({Role.NURSE, Role.DOCTOR})


async def _check_sees_patient(store: Store, caller: Principal, patient_id: str) -> None:
    try:
        await fhir_calls.read(store, caller, f"Patient/{patient_id}")
    except (NotFound, Gone):
        raise BookingRefused(N_("You book for the patients whose records you may see: "
                                "those of your health centre, or who shared theirs with "
                                "you")) from None


def _check_may_book(caller: Principal, patient_id: str) -> None:
    account = caller.account
    if account is None or account.role is not Role.PATIENT:
        raise BookingRefused(N_("Bookings are made by patients, or by family members "
                                "acting for them"))
    if account.fhir_user_id != patient_id and patient_id not in caller.proxies:
        raise BookingRefused(N_("You can book only for yourself and the family members "
                                "who let you act for them"))


async def _free_slot(tx: Transaction, slot_id: str) -> tuple[dict[str, Any], int]:
    try:
        stored = await tx.read("Slot", slot_id)
    except (NotFound, Gone):
        raise BookingRefused(N_("This time is no longer offered; choose another")) from None
    slot = stored.resource()
    if datetime.fromisoformat(slot["start"]).timestamp() * 1_000_000 < now_micros():
        raise BookingRefused(N_("This time has passed; choose a later one"))
    if slot.get("status") != "free":
        raise _Taken(slot)
    return slot, stored.version_id


async def _take(tx: Transaction, slot_id: str, slot: dict[str, Any], version: int) -> None:
    busy = slot | {"status": "busy"}
    try:
        await tx.update("Slot", slot_id, busy, if_match=version)
    except PreconditionFailed:
        raise _Taken(slot) from None


async def _free_slots_of(tx: Transaction, appointment: dict[str, Any]) -> None:
    for reference in appointment.get("slot") or ():
        slot_id = reference_id(reference, "Slot")
        if slot_id is None:
            continue
        try:
            stored = await tx.read("Slot", slot_id)
        except (NotFound, Gone):
            continue  # removed from the roster meanwhile: nothing to free
        slot = stored.resource()
        if slot.get("status") == "busy":
            free = slot | {"status": "free"}
            await tx.update("Slot", slot_id, free)


async def _own_appointment(tx: Transaction, patient_id: str, appointment_id: str
                           ) -> tuple[int, dict[str, Any]]:
    try:
        stored = await tx.read("Appointment", appointment_id)
    except (NotFound, Gone):
        raise BookingRefused(N_("There is no such appointment")) from None
    appointment = stored.resource()
    if booking_of(appointment).patient_id != patient_id:
        raise BookingRefused(N_("There is no such appointment"))
    if appointment.get("status") != "booked":
        raise BookingRefused(N_("Only a booked appointment can be changed or cancelled"))
    if datetime.fromisoformat(appointment["start"]).timestamp() * 1_000_000 < now_micros():
        raise BookingRefused(N_("This appointment has already begun; call the health "
                                "centre to change it"))
    return stored.version_id, appointment


async def _check_no_clash(tx: Transaction, patient_id: str, slot: dict[str, Any], *,
                          ignore: str | None) -> None:
    start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
    # Appointments last no longer than a slot can (offered.py), so any that overlaps
    # began at most that long before this one.
    earliest = start - timedelta(minutes=MAX_SLOT_MINUTES)
    clashing = await find(tx, "Appointment", [
        ("actor", f"Patient/{patient_id}"), ("status", ",".join(ACTIVE_STATUSES)),
        ("date", f"lt{end.isoformat()}"), ("date", f"gt{earliest.isoformat()}")], limit=50)
    for other in clashing:
        if other["id"] != ignore and datetime.fromisoformat(other["start"]) < end and (
                start < datetime.fromisoformat(other["end"])):
            raise BookingRefused(N_("You already have an appointment at this time"))


async def _appointment(tx: Transaction, patient_id: str, slot_id: str, slot: dict[str, Any],
                       *, video: bool) -> dict[str, Any]:
    schedule_id = reference_id(slot.get("schedule"), "Schedule") or ""
    schedule = (await tx.read("Schedule", schedule_id)).resource()
    actors = [a for a in schedule.get("actor") or () if isinstance(a, dict)]
    start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
    kinds = list(slot.get("serviceType") or schedule.get("serviceType") or [])
    return {
        "resourceType": "Appointment", "status": "booked",
        "serviceType": kinds + ([{"coding": [TELEHEALTH]}] if video else []),
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "start": slot["start"], "end": slot["end"],
        "minutesDuration": int((end - start).total_seconds() // 60),
        "created": instant_from_micros(now_micros()),
        "participant": [
            {"actor": {"reference": f"Patient/{patient_id}"}, "required": "required",
             "status": "accepted"},
            *({"actor": actor, "required": "required", "status": "accepted"}
              for actor in actors),
        ],
    }


async def _register_at_centre(tx: Transaction, patient_id: str,
                              appointment: dict[str, Any]) -> None:
    """A patient who belongs to no health centre yet (registered online) is registered
    with the one they first book at, as Thai primary care registers each person with
    one unit: its clinicians then reach the record they will treat."""
    location_id = _first([p.get("actor") for p in appointment["participant"]], "Location")
    if location_id is None:
        return
    stored = await tx.read("Patient", patient_id)
    patient = stored.resource()
    if patient.get("managingOrganization"):
        return
    location = (await tx.read("Location", location_id)).resource()
    organization = location.get("managingOrganization")
    if organization:
        patient = dict(patient)
        patient["managingOrganization"] = organization
        await tx.update("Patient", patient_id, patient, if_match=stored.version_id)


async def _next_free(store: Store, slot: dict[str, Any]) -> list[FreeTime]:
    services = [a for a in (await _schedule_actors(store, slot)) if a.startswith(
        "HealthcareService/")]
    if not services:
        return []
    start = datetime.fromisoformat(slot["start"])
    return [t for t in await free_times(store, services[0].removeprefix("HealthcareService/"),
                                        start, start + timedelta(days=28),
                                        limit=NEXT_FREE_SHOWN + 1)
            if t.start != start][:NEXT_FREE_SHOWN]


async def _schedule_actors(store: Store, slot: dict[str, Any]) -> list[str]:
    schedule_id = reference_id(slot.get("schedule"), "Schedule") or "-"
    async with store.reading(EVERYTHING) as tx:
        found = await find(tx, "Schedule", [("_id", schedule_id)], limit=1)
    return [a.get("reference", "") for s in found for a in s.get("actor") or ()]
