"""The nurse's worklist and what the nurse does about an alert, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.fhir.structure_validation import validate_structure
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.actions import (
    ActionRefused,
    acknowledge,
    escalate,
    message_patient,
    messages_to,
)
from mor.services.monitoring.alerts import evaluate_plan
from mor.services.monitoring.plans import enrol
from mor.services.monitoring.readings import Reading, record
from mor.services.monitoring.worklist import WorklistRefused, patient_alerts, worklist
from mor.services.scheduling.booking import BookingRefused, book, free_times
from mor.services.scheduling.lookup import find
from tests.scheduling.centre import make_centre
from tests.video.conftest import Centre, Person, clinician_at, tomorrow_at

NOW = datetime.now(UTC).replace(microsecond=0)


def bp(hours_ago: float, systolic: float, diastolic: float) -> Reading:
    return Reading("bp", NOW - timedelta(hours=hours_ago),
                   {"systolic": systolic, "diastolic": diastolic})


async def followed(store: Store, centre: Centre, *readings: Reading,
                   evaluated: datetime = NOW) -> tuple[Person, str]:
    booked = await centre.booking(store, slot=0)
    patient = booked.patient
    plan = await enrol(store, patient.caller, patient.id, ["hypertension"],
                       now=NOW - timedelta(days=1))
    for reading in readings:
        await record(store, patient.caller, patient.id, reading, plan.id)
    await evaluate_plan(store, plan.id, now=evaluated)
    return patient, plan.id


async def test_the_worklist_puts_the_crisis_first_with_its_rule_and_trend(
        store: Store, centre: Centre) -> None:
    high, _ = await followed(store, centre, bp(30, 150, 85), bp(5, 166, 96))
    crisis, _ = await followed(store, centre, bp(28, 140, 88), bp(3, 188, 114))
    calm, _ = await followed(store, centre, bp(2, 124, 78))

    found = await worklist(store, centre.nurse.caller, centre.id, now=NOW)
    assert [row.patient_id for row in found.rows] == [crisis.id, high.id]
    first = found.rows[0]
    assert first.first.rule == "bp-urgent" and first.urgent
    assert first.first.focus is not None and first.first.focus.values["systolic"] == 188
    assert [r.values["systolic"] for r in first.trend] == [140, 188]
    assert found.rows[1].first.rule == "bp-high"
    assert calm.id not in {row.patient_id for row in found.rows}

    # Another centre's nurse sees none of it.
    other = await make_centre(store)
    stranger = await clinician_at(store, other.centre.id, Role.NURSE, "Nurse Dao")
    with pytest.raises(WorklistRefused):
        await worklist(store, stranger.caller, centre.id, now=NOW)
    with pytest.raises(WorklistRefused):
        await worklist(store, crisis.caller, centre.id, now=NOW)


async def test_the_audit_record_names_the_patients_shown_and_not_those_left_out(
        store: Store, centre: Centre) -> None:
    crisis, _ = await followed(store, centre, bp(3, 188, 114))
    high, _ = await followed(store, centre, bp(5, 166, 96))

    found = await worklist(store, centre.nurse.caller, centre.id, now=NOW, most=1)
    assert [row.patient_id for row in found.rows] == [crisis.id] and found.more == 1
    async with store.reading(EVERYTHING) as tx:
        events = await find(tx, "AuditEvent", [
            ("agent", f"Practitioner/{centre.nurse.id}"), ("_sort", "-date")])
    named = str(events[0]["entity"])  # the nurse's last: the worklist
    assert f"Patient/{crisis.id}" in named
    # The worklist read the other patient's alert only to say one more waits.
    assert high.id not in named


async def test_among_routine_alerts_the_rule_comes_before_the_wait(
        store: Store, centre: Centre) -> None:
    # Days without readings were raised first, a reading out of range later: the reading
    # comes first, as the rules rank them, however long the gap has waited.
    silent, _ = await followed(store, centre, evaluated=NOW + timedelta(days=5))
    high, _ = await followed(store, centre, bp(2, 166, 96),
                             evaluated=NOW + timedelta(days=6))
    crisis, _ = await followed(store, centre, bp(3, 188, 114))
    later = NOW + timedelta(days=7)
    rows = (await worklist(store, centre.nurse.caller, centre.id, now=later)).rows
    assert [(r.patient_id, r.first.rule) for r in rows] == [
        (crisis.id, "bp-urgent"), (high.id, "bp-high"), (silent.id, "bp-missing")]

    # The rule stays with the alert through the nurse's changes, and an alert raised
    # before alerts carried it is placed by its priority.
    alert = rows[1].first
    await escalate(store, centre.nurse.caller, centre.id, alert.task_id,
                   version=alert.version, note="Twice this week", now=later)
    async with store.writing(EVERYTHING) as tx:
        task = (await tx.read("Task", alert.task_id)).resource()
        assert [t["code"] for t in task["meta"]["tag"]] == ["bp-high"]
        urgent = (await tx.read("Task", rows[0].first.task_id)).resource()
        await tx.update("Task", urgent["id"], {k: v for k, v in urgent.items()
                                               if k != "meta"})
    doctor = (await worklist(store, centre.doctor.caller, centre.id, now=later)).rows
    assert [r.patient_id for r in doctor] == [high.id, crisis.id, silent.id]
    nurse = (await worklist(store, centre.nurse.caller, centre.id, now=later)).rows
    assert [r.patient_id for r in nurse] == [crisis.id, high.id, silent.id]


async def test_acknowledging_takes_the_alert_off_the_worklist_and_ends_its_flag(
        store: Store, centre: Centre) -> None:
    patient, _ = await followed(store, centre, bp(2, 185, 100))
    row = (await worklist(store, centre.nurse.caller, centre.id, now=NOW)).rows[0]
    alert = row.first
    await acknowledge(store, centre.nurse.caller, centre.id, alert.task_id,
                      version=alert.version, note="Called her; she rests and measures again",
                      now=NOW)
    assert (await worklist(store, centre.nurse.caller, centre.id, now=NOW)).rows == ()
    async with store.reading(EVERYTHING) as tx:
        task = (await tx.read("Task", alert.task_id)).resource()
        flags = await find(tx, "Flag", [("patient", f"Patient/{patient.id}")])
    assert validate_structure(task) == []
    assert task["status"] == "completed"
    assert task["note"][0]["authorReference"] == {
        "reference": f"Practitioner/{centre.nurse.id}"}
    assert [f["status"] for f in flags] == ["inactive"]

    # The second nurse, on the page she opened before, is told rather than overwriting.
    with pytest.raises(ActionRefused, match="dealt with"):
        await acknowledge(store, centre.nurse.caller, centre.id, alert.task_id,
                          version=alert.version, note="", now=NOW)
    closed = await patient_alerts(store, centre.nurse.caller, centre.id, patient.id, now=NOW)
    assert closed.open == () and closed.closed[0].closed_because == "acknowledged"


async def test_two_nurses_acting_at_once_get_one_change(store: Store, centre: Centre) -> None:
    crisis, _ = await followed(store, centre, bp(2, 200, 100),
                               evaluated=NOW - timedelta(minutes=30))
    high, _ = await followed(store, centre, bp(2, 185, 100))
    assert [r.patient_id for r in (await worklist(store, centre.doctor.caller, centre.id,
                                                  now=NOW)).rows] == [crisis.id, high.id]
    alert = (await worklist(store, centre.nurse.caller, centre.id, now=NOW)).rows[1].first
    await escalate(store, centre.nurse.caller, centre.id, alert.task_id,
                   version=alert.version, note="Crisis again, on two medicines", now=NOW)
    with pytest.raises(ActionRefused, match="same moment"):
        await acknowledge(store, centre.nurse.caller, centre.id, alert.task_id,
                          version=alert.version, note="", now=NOW)
    # The doctor sees the escalated alert first, before the earlier crisis.
    escalated = (await worklist(store, centre.doctor.caller, centre.id, now=NOW)).rows[0]
    assert escalated.patient_id == high.id
    assert escalated.first.escalated and escalated.first.status == "requested"
    nurse_view = await worklist(store, centre.nurse.caller, centre.id, now=NOW)
    assert [r.patient_id for r in nurse_view.rows] == [crisis.id, high.id]
    with pytest.raises(ActionRefused, match="doctor should look"):
        await escalate(store, centre.nurse.caller, centre.id, alert.task_id,
                       version=escalated.first.version, note=" ", now=NOW)


async def test_the_nurse_messages_the_patient_who_reads_it(store: Store, centre: Centre) -> None:
    patient, _ = await followed(store, centre, bp(2, 170, 100))
    alert = (await worklist(store, centre.nurse.caller, centre.id, now=NOW)).rows[0].first
    message_id = await message_patient(
        store, centre.nurse.caller, centre.id, patient.id,
        "Please measure again after 5 minutes of rest", now=NOW, task_id=alert.task_id)
    read = await messages_to(store, patient.caller, patient.id)
    assert [(m.id, m.text, m.sender) for m in read] == [
        (message_id, "Please measure again after 5 minutes of rest",
         f"Practitioner/{centre.nurse.id}")]
    async with store.reading(EVERYTHING) as tx:
        assert validate_structure((await tx.read("Communication", message_id)).resource()
                                  ) == []
    with pytest.raises(ActionRefused, match="Write the message"):
        await message_patient(store, centre.nurse.caller, centre.id, patient.id, " ",
                              now=NOW)


async def test_the_nurse_books_the_patient_a_video_consult(store: Store, centre: Centre
                                                           ) -> None:
    patient, _ = await followed(store, centre, bp(2, 182, 104))
    times = await free_times(store, centre.made.service.id, tomorrow_at(0), tomorrow_at(23))
    booking = await book(store, centre.nurse.caller, patient.id, times[1].slot_id,
                         video=True)
    assert booking.start == times[1].start
    async with store.reading(EVERYTHING) as tx:
        appointment = (await tx.read("Appointment", booking.appointment_id)).resource()
    patients = [p["actor"]["reference"] for p in appointment["participant"]
                if p["actor"]["reference"].startswith("Patient/")]
    assert patients == [f"Patient/{patient.id}"]

    # Not for a patient whose record the nurse may not see.
    other = await make_centre(store)
    stranger = await clinician_at(store, other.centre.id, Role.NURSE, "Nurse Dao")
    with pytest.raises(BookingRefused, match="records you may see"):
        await book(store, stranger.caller, patient.id, times[2].slot_id, video=True)
