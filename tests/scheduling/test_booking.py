"""Booking, rescheduling and cancelling slots, on SQLite and PostgreSQL: each slot is
booked once, a freed slot is free again at once, and all of it is FHIR resources."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta

import httpx
import pytest

from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.booking import (
    BookingRefused,
    SlotTaken,
    appointments_of,
    book,
    cancel,
    free_times,
    queue_position,
    reschedule,
)
from mor.services.scheduling.offered import ClosedDay, Service, save_service
from mor.services.scheduling.rosters import RosterError, Shift, save_roster_entry
from mor.services.scheduling.slots import refresh_all, refresh_slots
from tests.scheduling.centre import BANGKOK, EVERY_DAY, make_centre, patient_caller


def tomorrow() -> datetime:
    start = datetime.now(BANGKOK).date() + timedelta(days=1)
    return datetime.combine(start, time(0), BANGKOK)


async def store_of(client: httpx.AsyncClient):  # type: ignore[no-untyped-def]
    return client.app.state.store  # type: ignore[attr-defined]


async def test_a_roster_makes_the_slots_of_the_coming_four_weeks_once(
        client: httpx.AsyncClient) -> None:
    store = await store_of(client)
    made = await make_centre(store)  # 09:00-10:00 every day, 15-minute slots
    again = await refresh_slots(store, made.roster.schedule_id, zone=BANGKOK)
    assert (again.made, again.removed) == (0, 0)
    day = await free_times(store, made.service.id, tomorrow(), tomorrow() + timedelta(days=1))
    assert [t.start.astimezone(BANGKOK).strftime("%H:%M") for t in day] == [
        "09:00", "09:15", "09:30", "09:45"]
    slots = (await client.get("/Slot", params={
        "schedule": f"Schedule/{made.roster.schedule_id}", "_summary": "count",
        "_total": "accurate"})).json()
    assert slots["total"] in (28 * 4, 29 * 4)  # today's too, if it is before 10:00


async def test_a_booked_slot_is_taken_and_the_next_patient_is_offered_other_times(
        client: httpx.AsyncClient) -> None:
    store = await store_of(client)
    made = await make_centre(store)
    first = (await free_times(store, made.service.id, tomorrow(),
                              tomorrow() + timedelta(days=1)))[0]
    alice, alice_id = await patient_caller(store)
    bob, bob_id = await patient_caller(store)
    booking = await book(store, alice, alice_id, first.slot_id)
    assert (booking.status, booking.start, booking.patient_id) == ("booked", first.start,
                                                                   alice_id)
    with pytest.raises(SlotTaken) as taken:
        await book(store, bob, bob_id, first.slot_id)
    assert [t.start.strftime("%H:%M") for t in taken.value.next_free][:3] == [
        "09:15", "09:30", "09:45"]
    # As any FHIR client sees it.
    slot = (await client.get(f"/Slot/{first.slot_id}")).json()
    assert slot["status"] == "busy"
    appointment = (await client.get(f"/Appointment/{booking.appointment_id}")).json()
    assert appointment["slot"] == [{"reference": f"Slot/{first.slot_id}"}]
    assert {"reference": f"Patient/{alice_id}"} in [p["actor"] for p in
                                                    appointment["participant"]]
    assert {"reference": f"HealthcareService/{made.service.id}"} in [
        p["actor"] for p in appointment["participant"]]
    # Booking registered Alice, who belonged to no centre, with this one.
    patient = (await client.get(f"/Patient/{alice_id}")).json()
    assert patient["managingOrganization"] == {"reference": f"Organization/{made.centre.id}"}
    remaining = await free_times(store, made.service.id, tomorrow(),
                                 tomorrow() + timedelta(days=1))
    assert first.start not in [t.start for t in remaining]


async def test_cancelling_frees_the_slot_at_once_for_someone_else(
        client: httpx.AsyncClient) -> None:
    store = await store_of(client)
    made = await make_centre(store)
    first = (await free_times(store, made.service.id, tomorrow(), tomorrow() + timedelta(
        days=1)))[0]
    alice, alice_id = await patient_caller(store)
    bob, bob_id = await patient_caller(store)
    booking = await book(store, alice, alice_id, first.slot_id)
    # A label and a tag another system put on the appointment stay through the change.
    path = f"/Appointment/{booking.appointment_id}"
    labelled = (await client.get(path)).json()
    labels = {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                            "code": "R"}],
              "tag": [{"system": "https://city.example/tags", "code": "interpreter"}]}
    labelled["meta"] = {**labelled["meta"], **labels}
    assert (await client.put(path, json=labelled)).status_code == 200
    cancelled = await cancel(store, alice, alice_id, booking.appointment_id)
    assert cancelled.status == "cancelled"
    meta = (await client.get(path)).json()["meta"]
    assert (meta["security"], meta["tag"]) == (labels["security"], labels["tag"])
    assert (await book(store, bob, bob_id, first.slot_id)).patient_id == bob_id
    history = (await client.get(f"/Appointment/{booking.appointment_id}/_history")).json()
    assert [e["resource"]["status"] for e in history["entry"]] == [
        "cancelled", "booked", "booked"]
    with pytest.raises(BookingRefused):
        await cancel(store, alice, alice_id, booking.appointment_id)  # cancelled already


async def test_rescheduling_moves_the_same_appointment_and_frees_the_old_slot(
        client: httpx.AsyncClient) -> None:
    store = await store_of(client)
    made = await make_centre(store)
    first, second = (await free_times(store, made.service.id, tomorrow(),
                                      tomorrow() + timedelta(days=1)))[:2]
    alice, alice_id = await patient_caller(store)
    booking = await book(store, alice, alice_id, first.slot_id)
    moved = await reschedule(store, alice, alice_id, booking.appointment_id, second.slot_id)
    assert (moved.appointment_id, moved.start, moved.slot_id) == (
        booking.appointment_id, second.start, second.slot_id)
    assert (await client.get(f"/Slot/{first.slot_id}")).json()["status"] == "free"
    assert (await client.get(f"/Slot/{second.slot_id}")).json()["status"] == "busy"
    mine = await appointments_of(store, alice, alice_id)
    assert [(b.appointment_id, b.start) for b in mine] == [(booking.appointment_id,
                                                            second.start)]


async def test_nobody_books_for_someone_else_nor_twice_at_one_time(
        client: httpx.AsyncClient) -> None:
    store = await store_of(client)
    made = await make_centre(store, capacity=2)
    first = (await free_times(store, made.service.id, tomorrow(), tomorrow() + timedelta(
        days=1)))[0]
    alice, alice_id = await patient_caller(store)
    _, bob_id = await patient_caller(store)
    with pytest.raises(BookingRefused, match="only for yourself"):
        await book(store, alice, bob_id, first.slot_id)
    await book(store, alice, alice_id, first.slot_id)
    # The second place at the same time is still free, but not for Alice.
    again = (await free_times(store, made.service.id, tomorrow(), tomorrow() + timedelta(
        days=1)))[0]
    assert again.start == first.start and again.slot_id != first.slot_id
    with pytest.raises(BookingRefused, match="already have an appointment"):
        await book(store, alice, alice_id, again.slot_id)


async def test_a_closed_day_removes_its_free_slots_and_keeps_the_booked_ones(
        client: httpx.AsyncClient) -> None:
    store = await store_of(client)
    made = await make_centre(store)
    day = tomorrow()
    first = (await free_times(store, made.service.id, day, day + timedelta(days=1)))[0]
    alice, alice_id = await patient_caller(store)
    await book(store, alice, alice_id, first.slot_id)
    closed = Service(**{**{f: getattr(made.service, f) for f in made.service.__slots__},
                        "closed": (ClosedDay(day.date(), "Constitution Day"),)})
    await save_service(store, made.admin, closed)
    done = await refresh_slots(store, made.roster.schedule_id, zone=BANGKOK)
    assert done.removed == 3
    assert await free_times(store, made.service.id, day, day + timedelta(days=1)) == []
    assert (await client.get(f"/Slot/{first.slot_id}")).json()["status"] == "busy"


async def test_the_queue_counts_the_patients_before_you_that_day(
        client: httpx.AsyncClient) -> None:
    store = await store_of(client)
    made = await make_centre(store, shifts=(Shift(EVERY_DAY, time(9), time(11)),))
    times = await free_times(store, made.service.id, tomorrow(), tomorrow() + timedelta(
        days=1))
    bookings = []
    for free in times[:3]:
        caller, patient_id = await patient_caller(store)
        bookings.append(await book(store, caller, patient_id, free.slot_id))
    day = tomorrow().date()
    assert [await queue_position(store, b, BANGKOK, today=day) for b in bookings] == [0, 1, 2]
    assert await queue_position(store, bookings[0], BANGKOK) is None  # not today


async def test_a_hundred_patients_pressing_book_at_once_make_one_booking(
        client: httpx.AsyncClient) -> None:
    store = await store_of(client)
    made = await make_centre(store)
    slot = (await free_times(store, made.service.id, tomorrow(), tomorrow() + timedelta(
        days=1)))[0]
    patients = [await patient_caller(store) for _ in range(100)]
    results = await asyncio.gather(*(book(store, caller, patient_id, slot.slot_id)
                                     for caller, patient_id in patients),
                                   return_exceptions=True)
    booked = [r for r in results if not isinstance(r, BaseException)]
    taken = [r for r in results if isinstance(r, SlotTaken)]
    assert len(booked) == 1 and len(taken) == 99, [r for r in results
                                                   if isinstance(r, Exception)
                                                   and not isinstance(r, SlotTaken)][:3]
    assert all(t.next_free and slot.start not in [f.start for f in t.next_free]
               for t in taken)
    found = (await client.get("/Appointment", params={
        "slot": f"Slot/{slot.slot_id}", "_summary": "count", "_total": "accurate"})).json()
    assert found["total"] == 1
    async with store.reading(EVERYTHING) as tx:
        assert (await tx.read("Slot", slot.slot_id)).resource()["status"] == "busy"


async def test_a_clinician_is_never_rostered_in_two_clinics_at_once(
        client: httpx.AsyncClient) -> None:
    store = await store_of(client)
    made = await make_centre(store)  # the doctor: every day 09:00-10:00
    skin = await save_service(store, made.admin, Service(
        "", made.centre.id, made.centre.location_id, "skin", 20, 1))
    with pytest.raises(RosterError, match="on the roster at that time"):
        await save_roster_entry(store, made.admin, skin, made.roster.practitioner_id,
                                (Shift(("mon",), time(9, 30), time(11)),))
    later = await save_roster_entry(store, made.admin, skin, made.roster.practitioner_id,
                                    (Shift(("mon",), time(10), time(11)),))
    assert later.service_id == skin.id


async def test_the_slots_move_on_with_the_days(client: httpx.AsyncClient) -> None:
    store = await store_of(client)
    made = await make_centre(store)
    later = datetime.now(BANGKOK).date() + timedelta(days=10)
    done = await refresh_all(store, zone=BANGKOK, today=later)
    assert done.made == 10 * 4  # ten more days of 09:00-10:00 in 15-minute slots
    far = datetime.combine(later + timedelta(days=27), time(0), BANGKOK)
    assert len(await free_times(store, made.service.id, far, far + timedelta(days=1))) == 4
