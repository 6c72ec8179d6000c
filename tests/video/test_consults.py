"""Video consults, on SQLite and PostgreSQL: the patient opens the consult on the day,
waits in the centre's waiting room in turn, a doctor or nurse of the centre admits them,
may hand them to a colleague, and ends it; all of it an R4 Encounter."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from mor.fhir.store import Store
from mor.fhir.structure_validation import validate_structure
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.booking import cancel
from mor.services.scheduling.lookup import find
from mor.services.video.consults import (
    ConsultNotFound,
    ConsultRefused,
    admit,
    arrive,
    close_left_over,
    colleagues,
    consult_of_appointment,
    end,
    get_consult,
    hand_over,
    may_join,
    place_in_queue,
    waiting_room,
    walk_in,
)
from tests.scheduling.centre import BANGKOK, patient_caller
from tests.video.conftest import Centre, centre_with_staff, tomorrow_at


async def fhir(client: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    answer = await client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])
            if e.get("search", {}).get("mode", "match") == "match"]


async def test_opening_the_consult_again_or_on_two_devices_keeps_one_encounter(
        client: httpx.AsyncClient, store: Store, centre: Centre) -> None:
    alice = await centre.booking(store)
    first = await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                         now=tomorrow_at(8, 55))
    reloaded = await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                            now=tomorrow_at(8, 56))
    at_once = await asyncio.gather(*(arrive(
        store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
        now=tomorrow_at(8, 57)) for _ in range(5)))
    assert {c.encounter_id for c in [reloaded, *at_once]} == {first.encounter_id}
    assert (first.status, first.patient_id, first.clinician_id, first.centre_id) == (
        "arrived", alice.patient.id, centre.doctor.id, centre.id)
    assert first.arrived_at == reloaded.arrived_at == tomorrow_at(8, 55)
    found = await fhir(client, "/Encounter", appointment=f"Appointment/{alice.appointment_id}")
    assert ids(found) == [first.encounter_id]
    appointment = await fhir(client, f"/Appointment/{alice.appointment_id}")
    assert appointment["status"] == "arrived"
    assert await consult_of_appointment(store, alice.appointment_id) == first


async def test_nobody_opens_someone_elses_appointment_nor_on_another_day(
        client: httpx.AsyncClient, store: Store, centre: Centre) -> None:
    alice = await centre.booking(store)
    bob, _ = await patient_caller(store)
    with pytest.raises(ConsultRefused) as refused:
        await arrive(store, bob, alice.appointment_id, zone=BANGKOK, now=tomorrow_at(9))
    assert refused.value.reason == "You have no such appointment"
    with pytest.raises(ConsultRefused) as refused:
        await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                     now=tomorrow_at(9) - timedelta(days=1))
    assert refused.value.reason == "The video consultation opens on the day of your appointment"
    with pytest.raises(ConsultRefused):
        await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                     now=tomorrow_at(9) + timedelta(days=1))
    with pytest.raises(ConsultRefused, match="no such appointment"):
        await arrive(store, centre.doctor.caller, alice.appointment_id, zone=BANGKOK,
                     now=tomorrow_at(9))
    with pytest.raises(ConsultRefused, match="opened by patients"):
        await walk_in(store, centre.doctor.caller, alice.patient.id, centre.id,
                      now=tomorrow_at(9))
    assert ids(await fhir(client, "/Encounter", subject=f"Patient/{alice.patient.id}")) == []
    assert (await fhir(client, f"/Appointment/{alice.appointment_id}"))["status"] == "booked"


async def test_a_cancelled_appointment_opens_no_consult(
        store: Store, centre: Centre) -> None:
    alice = await centre.booking(store)
    await cancel(store, alice.patient.caller, alice.patient.id, alice.appointment_id)
    with pytest.raises(ConsultRefused, match="was cancelled"):
        await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                     now=tomorrow_at(9))


async def test_the_waiting_room_is_first_come_first_served_with_the_expected_wait(
        store: Store, centre: Centre) -> None:
    alice = await centre.booking(store, 0)  # 09:00
    bob = await centre.booking(store, 1)  # 09:15, but comes first
    carol, carol_id = await patient_caller(store)
    b = await arrive(store, bob.patient.caller, bob.appointment_id, zone=BANGKOK,
                     now=tomorrow_at(8, 50))
    c = await walk_in(store, carol, carol_id, centre.id, now=tomorrow_at(8, 52))
    a = await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                     now=tomorrow_at(8, 55))
    for_doctor = await waiting_room(store, centre.id, clinician_id=centre.doctor.id)
    assert [w.consult.encounter_id for w in for_doctor] == [
        b.encounter_id, c.encounter_id, a.encounter_id]
    assert [w.since for w in for_doctor] == [
        tomorrow_at(8, 50), tomorrow_at(8, 52), tomorrow_at(8, 55)]
    assert {w.patient_name for w in for_doctor} == {"Malee Test"}
    # The nurse has no bookings: only the walk-in nobody is assigned to waits for her.
    for_nurse = await waiting_room(store, centre.id, clinician_id=centre.nurse.id)
    assert [w.consult.encounter_id for w in for_nurse] == [c.encounter_id]
    assert [p.place for p in [await place_in_queue(store, x.encounter_id, now=tomorrow_at(9))
                              for x in (b, a)]] == [1, 3]
    alice_place = await place_in_queue(store, a.encounter_id, now=tomorrow_at(9))
    assert (alice_place.ahead, alice_place.expected_wait) == (2, timedelta(minutes=30))

    await admit(store, centre.doctor.caller, b.encounter_id, now=tomorrow_at(9))
    await admit(store, centre.nurse.caller, c.encounter_id, now=tomorrow_at(9))
    # Bob is five minutes into his fifteen: Alice is next, in about ten minutes.
    alice_place = await place_in_queue(store, a.encounter_id, now=tomorrow_at(9, 5))
    assert (alice_place.place, alice_place.ahead, alice_place.expected_wait) == (
        1, 0, timedelta(minutes=10))
    late = await place_in_queue(store, a.encounter_id, now=tomorrow_at(9, 30))
    assert late.expected_wait == timedelta(0)
    assert (await place_in_queue(store, b.encounter_id)).place == 0  # being seen
    assert [w.consult.encounter_id for w in await waiting_room(store, centre.id)] == [
        a.encounter_id]


async def test_showing_the_waiting_room_to_a_clinician_is_recorded(
        store: Store, centre: Centre) -> None:
    alice = await centre.booking(store)
    await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                 now=tomorrow_at(8, 55))

    async def records() -> int:
        async with store.reading(EVERYTHING) as tx:
            return len(await find(tx, "AuditEvent", [
                ("entity", f"Patient/{alice.patient.id}"), ("action", "R")]))

    before = await records()
    await waiting_room(store, centre.id)  # a change token: no names shown
    assert await records() == before
    shown = await waiting_room(store, centre.id, caller=centre.nurse.caller)
    assert len(shown) == 1 and await records() == before + 1
    with pytest.raises(ConsultRefused):
        await waiting_room(store, centre.id, caller=alice.patient.caller)


async def test_a_clinician_of_another_centre_cannot_admit(
        client: httpx.AsyncClient, store: Store, centre: Centre) -> None:
    other = await centre_with_staff(store)
    alice = await centre.booking(store)
    consult = await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                           now=tomorrow_at(8, 55))
    for outsider in (other.doctor, other.nurse):
        with pytest.raises(ConsultRefused, match="doctors and nurses of this health centre"):
            await admit(store, outsider.caller, consult.encounter_id, now=tomorrow_at(9))
    with pytest.raises(ConsultRefused):
        await admit(store, alice.patient.caller, consult.encounter_id, now=tomorrow_at(9))
    encounter = await fhir(client, f"/Encounter/{consult.encounter_id}")
    assert (encounter["status"], encounter["meta"]["versionId"]) == ("arrived", "1")
    with pytest.raises(ConsultNotFound):
        await admit(store, centre.doctor.caller, "no-such-consult")


async def test_two_clinicians_admitting_at_once_admit_the_patient_once(
        store: Store, centre: Centre) -> None:
    carol, carol_id = await patient_caller(store)
    consult = await walk_in(store, carol, carol_id, centre.id, now=tomorrow_at(8, 55))
    again = await walk_in(store, carol, carol_id, centre.id, now=tomorrow_at(8, 56))
    assert again.encounter_id == consult.encounter_id
    results = await asyncio.gather(
        admit(store, centre.doctor.caller, consult.encounter_id, now=tomorrow_at(9)),
        admit(store, centre.nurse.caller, consult.encounter_id, now=tomorrow_at(9)),
        return_exceptions=True)
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, ConsultRefused)]
    assert len(admitted) == 1 and len(refused) == 1, results
    now = await get_consult(store, consult.encounter_id)
    assert now.status == "in-progress" and now.clinician_id == admitted[0].clinician_id
    joined = [await may_join(store, p.caller, consult.encounter_id)
              for p in (centre.doctor, centre.nurse)]
    assert sorted(joined) == [False, True]


async def test_who_may_join_the_call(store: Store, centre: Centre) -> None:
    other = await centre_with_staff(store)
    alice = await centre.booking(store)
    bob, _ = await patient_caller(store)
    consult = await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                           now=tomorrow_at(8, 55))
    eid = consult.encounter_id

    async def joining() -> dict[str, bool]:
        people = {"alice": alice.patient.caller, "doctor": centre.doctor.caller,
                  "bob": bob, "nurse": centre.nurse.caller, "other": other.doctor.caller}
        return {name: await may_join(store, caller, eid) for name, caller in people.items()}

    # The doctor she booked is waited for; the nurse was never admitted to it.
    assert await joining() == {"alice": True, "doctor": True, "bob": False,
                               "nurse": False, "other": False}
    await admit(store, centre.doctor.caller, eid, now=tomorrow_at(9))
    assert await joining() == {"alice": True, "doctor": True, "bob": False,
                               "nurse": False, "other": False}
    await end(store, centre.doctor.caller, eid, now=tomorrow_at(9, 12))
    assert not any((await joining()).values())
    assert not await may_join(store, alice.patient.caller, "no-such-consult")


async def test_a_hand_over_keeps_the_patient_waiting_for_the_colleague(
        store: Store, centre: Centre) -> None:
    carol, carol_id = await patient_caller(store)
    consult = await walk_in(store, carol, carol_id, centre.id, now=tomorrow_at(8, 50))
    eid = consult.encounter_id
    assert consult.clinician_id is None
    await admit(store, centre.nurse.caller, eid, now=tomorrow_at(9))
    assert await colleagues(store, centre.nurse.caller, await get_consult(store, eid)) == [
        (centre.doctor.id, "Dr Somchai")]
    with pytest.raises(ConsultRefused, match="responsible for this patient now"):
        await hand_over(store, centre.doctor.caller, eid, centre.doctor.id,
                        now=tomorrow_at(9, 5))
    other = await centre_with_staff(store)
    with pytest.raises(ConsultRefused, match="doctor or nurse of this health centre"):
        await hand_over(store, centre.nurse.caller, eid, other.doctor.id,
                        now=tomorrow_at(9, 5))

    handed = await hand_over(store, centre.nurse.caller, eid, centre.doctor.id,
                             now=tomorrow_at(9, 6))
    assert (handed.status, handed.clinician_id, handed.waiting_since) == (
        "arrived", centre.doctor.id, tomorrow_at(9, 6))
    assert await may_join(store, carol, eid)
    assert await may_join(store, centre.doctor.caller, eid)
    assert not await may_join(store, centre.nurse.caller, eid)
    # Now hers no more: in the doctor's waiting room, not in the nurse's.
    assert [w.consult.encounter_id for w in await waiting_room(
        store, centre.id, clinician_id=centre.doctor.id)] == [eid]
    assert await waiting_room(store, centre.id, clinician_id=centre.nurse.id) == []
    with pytest.raises(ConsultRefused):
        await end(store, centre.nurse.caller, eid, now=tomorrow_at(9, 7))


async def test_the_status_history_holds_the_waiting_room_times(
        client: httpx.AsyncClient, store: Store, centre: Centre) -> None:
    alice = await centre.booking(store)
    eid = (await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                        now=tomorrow_at(8, 55))).encounter_id
    await admit(store, centre.nurse.caller, eid, now=tomorrow_at(9, 1))  # triage
    await hand_over(store, centre.nurse.caller, eid, centre.doctor.id, now=tomorrow_at(9, 8))
    await admit(store, centre.doctor.caller, eid, now=tomorrow_at(9, 12))
    ended = await end(store, centre.doctor.caller, eid, now=tomorrow_at(9, 25))
    assert (ended.status, ended.arrived_at, ended.admitted_at, ended.ended_at,
            ended.waiting_since) == ("finished", tomorrow_at(8, 55), tomorrow_at(9, 12),
                                     tomorrow_at(9, 25), tomorrow_at(9, 8))

    encounter = await fhir(client, f"/Encounter/{eid}")
    times = [tomorrow_at(*hm) for hm in ((8, 55), (9, 1), (9, 8), (9, 12), (9, 25))]
    history = [(h["status"], h["period"]) for h in encounter["statusHistory"]]
    assert [s for s, _ in history] == ["arrived", "in-progress", "arrived", "in-progress",
                                       "finished"]
    starts = [p["start"] for _, p in history]
    ends = [p.get("end") for _, p in history]
    assert ends[:-1] == starts[1:] and ends[-1] is None
    assert [_moment(s) for s in starts] == times
    assert (_moment(encounter["period"]["start"]), _moment(encounter["period"]["end"])) == (
        times[0], times[-1])
    # Who was responsible when: the doctor booked, the nurse's triage, the doctor again.
    people = [(p["individual"]["reference"], _moment(p["period"]["start"]),
               _moment(p["period"]["end"])) for p in encounter["participant"]]
    doctor, nurse = f"Practitioner/{centre.doctor.id}", f"Practitioner/{centre.nurse.id}"
    assert people == [(doctor, times[0], times[1]), (nurse, times[1], times[2]),
                      (doctor, times[2], times[4])]
    assert all(p["type"][0]["coding"][0]["code"] == "PPRF" for p in encounter["participant"])
    appointment = await fhir(client, f"/Appointment/{alice.appointment_id}")
    assert appointment["status"] == "fulfilled"
    with pytest.raises(ConsultRefused, match="ended already"):
        await end(store, centre.doctor.caller, eid, now=tomorrow_at(9, 26))
    with pytest.raises(ConsultRefused, match="appointment is over"):
        await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                     now=tomorrow_at(9, 30))


async def test_the_consult_is_an_r4_encounter_found_by_fhir_searches(
        client: httpx.AsyncClient, store: Store, centre: Centre) -> None:
    alice = await centre.booking(store)
    consult = await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                           now=tomorrow_at(8, 55))
    encounter = await fhir(client, f"/Encounter/{consult.encounter_id}")
    assert validate_structure(encounter) == []
    assert encounter["class"] == {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                  "code": "VR", "display": "virtual"}
    assert encounter["subject"] == {"reference": f"Patient/{alice.patient.id}"}
    assert encounter["serviceProvider"] == {"reference": f"Organization/{centre.id}"}
    assert encounter["location"] == [{"location": {
        "reference": f"Location/{centre.made.centre.location_id}"}}]
    assert encounter["serviceType"]["coding"][0]["code"] == "general-practice"
    searches = [
        {"appointment": f"Appointment/{alice.appointment_id}"},
        {"class": "http://terminology.hl7.org/CodeSystem/v3-ActCode|VR", "status": "arrived",
         "service-provider": f"Organization/{centre.id}"},
        {"participant": f"Practitioner/{centre.doctor.id}", "participant-type": "PPRF"},
        {"patient": f"Patient/{alice.patient.id}", "date": f"ge{tomorrow_at(0).date()}"},
    ]
    for params in searches:
        assert ids(await fhir(client, "/Encounter", **params)) == [consult.encounter_id], params
    assert ids(await fhir(client, "/Encounter", status="finished")) == []


async def test_a_patient_who_leaves_unseen_may_come_back_to_the_appointment(
        client: httpx.AsyncClient, store: Store, centre: Centre) -> None:
    alice = await centre.booking(store)
    first = await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                         now=tomorrow_at(8, 55))
    with pytest.raises(ConsultRefused, match="or the patient"):
        await end(store, centre.nurse.caller, first.encounter_id, now=tomorrow_at(8, 58))
    left = await end(store, alice.patient.caller, first.encounter_id, now=tomorrow_at(9))
    assert (left.status, left.ended_at) == ("cancelled", tomorrow_at(9))
    assert (await fhir(client, f"/Appointment/{alice.appointment_id}"))["status"] == "booked"
    back = await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                        now=tomorrow_at(9, 2))
    assert back.encounter_id != first.encounter_id and back.status == "arrived"
    assert await consult_of_appointment(store, alice.appointment_id) == back


async def test_a_walk_in_waits_at_the_centre_it_chose(store: Store, centre: Centre) -> None:
    other = await centre_with_staff(store)
    carol, carol_id = await patient_caller(store)
    here = await walk_in(store, carol, carol_id, centre.id, now=tomorrow_at(10))
    there = await walk_in(store, carol, carol_id, other.id, now=tomorrow_at(10))
    assert here.encounter_id != there.encounter_id
    assert (here.appointment_id, here.centre_id, there.centre_id) == (None, centre.id,
                                                                     other.id)
    assert [w.consult.encounter_id for w in await waiting_room(store, other.id)] == [
        there.encounter_id]
    with pytest.raises(ConsultRefused, match="no such health centre"):
        await walk_in(store, carol, carol_id, "no-such-centre")
    bob, _ = await patient_caller(store)
    with pytest.raises(ConsultRefused):
        await walk_in(store, bob, carol_id, centre.id)


async def test_consults_left_open_on_an_earlier_day_are_closed_once(
        client: httpx.AsyncClient, store: Store, centre: Centre) -> None:
    """A patient who gave up waiting, and a call nobody ended, are closed after their
    day, at its end; a call going on across midnight is not."""
    alice = await centre.booking(store, 0)
    gave_up = await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                           now=tomorrow_at(8, 55))
    bob = await centre.booking(store, 1)
    seen = await arrive(store, bob.patient.caller, bob.appointment_id, zone=BANGKOK,
                        now=tomorrow_at(9, 10))
    await admit(store, centre.doctor.caller, seen.encounter_id, now=tomorrow_at(9, 20))
    carol, carol_id = await patient_caller(store)
    late = await walk_in(store, carol, carol_id, centre.id, now=tomorrow_at(23, 50))
    after_midnight = tomorrow_at(23, 50) + timedelta(minutes=20)
    await admit(store, centre.nurse.caller, late.encounter_id, now=after_midnight)

    assert await close_left_over(store, BANGKOK, now=tomorrow_at(23, 55)) == 0
    two_am = after_midnight + timedelta(hours=2)
    closed = await asyncio.gather(*(close_left_over(store, BANGKOK, now=two_am)
                                    for _ in range(3)))
    assert sum(closed) == 2

    midnight = tomorrow_at(0) + timedelta(days=1)
    left = await get_consult(store, gave_up.encounter_id)
    assert (left.status, left.ended_at) == ("cancelled", midnight)
    done = await get_consult(store, seen.encounter_id)
    assert (done.status, done.ended_at) == ("finished", midnight)
    assert (await get_consult(store, late.encounter_id)).status == "in-progress"
    assert (await fhir(client, f"/Appointment/{alice.appointment_id}"))["status"] == "noshow"
    assert (await fhir(client, f"/Appointment/{bob.appointment_id}"))["status"] == "fulfilled"
    assert await waiting_room(store, centre.id) == []
    assert await close_left_over(store, BANGKOK, now=two_am) == 0


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(BANGKOK)
