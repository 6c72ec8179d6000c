"""Plans, readings and alerts in the store: what a patient, the watcher and a device
gateway write, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mor.fhir.store import Store
from mor.fhir.structure_validation import validate_structure
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.alerts import ALERT_CODE, evaluate_plan, reading_ids, rule_of
from mor.services.monitoring.plans import PlanRefused, active_plan, change_thresholds, enrol
from mor.services.monitoring.readings import BadReading, Reading, observation_of, record
from mor.services.monitoring.thresholds import CITY_DEFAULTS
from mor.services.monitoring.watcher import check_gaps, watch_once
from mor.services.scheduling.lookup import find
from tests.scheduling.centre import patient_caller
from tests.video.conftest import Booked, Centre

NOW = datetime.now(UTC).replace(microsecond=0)


def bp(hours_ago: float, systolic: float, diastolic: float, key: str | None = None
       ) -> Reading:
    reading = Reading("bp", NOW - timedelta(hours=hours_ago),
                      {"systolic": systolic, "diastolic": diastolic, "pulse": 72})
    return Reading(reading.kind, reading.taken, reading.values, key=key or reading.key)


async def tasks(store: Store, patient_id: str) -> list[dict[str, Any]]:
    async with store.reading(EVERYTHING) as tx:
        return await find(tx, "Task", [("code", ALERT_CODE), ("patient", f"Patient/{patient_id}"),
                                       ("_sort", "authored-on")])


async def enrolled(store: Store, centre: Centre, *programmes: str) -> tuple[Booked, str]:
    booked = await centre.booking(store)
    plan = await enrol(store, booked.patient.caller, booked.patient.id,
                       programmes or ("hypertension",), now=NOW)
    return booked, plan.id


async def test_a_patient_enrols_in_a_plan_with_goals_their_centre_follows(
        store: Store, centre: Centre) -> None:
    booked = await centre.booking(store)
    patient = booked.patient
    plan = await enrol(store, patient.caller, patient.id, ["hypertension", "diabetes"],
                       now=NOW)
    assert plan.centre_id == centre.id
    assert plan.programmes == ("hypertension", "diabetes")
    assert plan.kinds == ("bp", "weight", "glucose")
    async with store.reading(EVERYTHING) as tx:
        care_plan = (await tx.read("CarePlan", plan.id)).resource()
        goals = [(await tx.read("Goal", g)).resource() for g in plan.goal_ids]
    assert validate_structure(care_plan) == []
    assert all(validate_structure(goal) == [] for goal in goals)
    assert {c["code"] for concept in care_plan["category"] for c in concept["coding"]} == {
        "home-monitoring", "I10", "E11"}
    assert care_plan["author"] == {"reference": f"Patient/{patient.id}"}
    targets = {t["measure"]["coding"][0]["code"]: t for g in goals for t in g["target"]}
    assert targets["8480-6"]["detailQuantity"] == {
        "value": 140, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org",
        "code": "mm[Hg]", "comparator": "<"}
    assert targets["2339-0"]["detailRange"]["low"]["value"] == 80
    assert targets["2339-0"]["detailRange"]["high"]["value"] == 130
    assert await active_plan(store, centre.nurse.caller, patient.id) == plan

    with pytest.raises(PlanRefused, match="already follows"):
        await enrol(store, patient.caller, patient.id, ["diabetes"], now=NOW)


async def test_a_patient_without_a_health_centre_or_a_stranger_cannot_enrol(
        store: Store, centre: Centre) -> None:
    caller, patient_id = await patient_caller(store)
    with pytest.raises(PlanRefused, match="first visit"):
        await enrol(store, caller, patient_id, ["hypertension"], now=NOW)
    booked = await centre.booking(store)
    with pytest.raises(PlanRefused, match="enrol themselves"):
        await enrol(store, caller, booked.patient.id, ["hypertension"], now=NOW)
    with pytest.raises(PlanRefused, match="Choose"):
        await enrol(store, booked.patient.caller, booked.patient.id, ["asthma"], now=NOW)


async def test_a_reading_sent_twice_is_stored_once(store: Store, centre: Centre) -> None:
    booked, plan_id = await enrolled(store, centre)
    reading = bp(1, 132, 84)
    first = await record(store, booked.patient.caller, booked.patient.id, reading, plan_id)
    again = await record(store, booked.patient.caller, booked.patient.id, reading, plan_id)
    assert (first.new, again.new) == (True, False)
    assert first.reading.id == again.reading.id
    async with store.reading(EVERYTHING) as tx:
        found = await find(tx, "Observation", [("patient", f"Patient/{booked.patient.id}")])
    assert len(found) == 1
    observation = found[0]
    assert validate_structure(observation) == []
    assert observation["code"]["coding"][0]["code"] == "85354-9"
    assert [c["code"]["coding"][0]["code"] for c in observation["component"]] == [
        "8480-6", "8462-4", "8867-4"]
    assert observation["basedOn"] == [{"reference": f"CarePlan/{plan_id}"}]


async def test_an_implausible_reading_is_refused_with_the_reason(
        store: Store, centre: Centre) -> None:
    booked, plan_id = await enrolled(store, centre)
    with pytest.raises(BadReading) as refused:
        await record(store, booked.patient.caller, booked.patient.id, bp(1, 1320, 84),
                     plan_id)
    assert refused.value.params == {"value": "1320", "low": "50", "high": "300"}
    with pytest.raises(BadReading, match="upper number"):
        await record(store, booked.patient.caller, booked.patient.id, bp(1, 80, 120), plan_id)
    async with store.reading(EVERYTHING) as tx:
        assert await find(tx, "Observation", [("patient", f"Patient/{booked.patient.id}")]) == []


async def test_a_crisis_reading_raises_one_urgent_task_and_flag_for_the_centre(
        store: Store, centre: Centre) -> None:
    booked, plan_id = await enrolled(store, centre)
    patient = booked.patient
    await record(store, patient.caller, patient.id, bp(3, 130, 80), plan_id)
    crisis = await record(store, patient.caller, patient.id, bp(2, 186, 112), plan_id)
    await evaluate_plan(store, plan_id, now=NOW)
    await evaluate_plan(store, plan_id, now=NOW)  # nothing new: nothing more
    found = await tasks(store, patient.id)
    assert len(found) == 1
    task = found[0]
    assert validate_structure(task) == []
    assert rule_of(task) == "bp-urgent"
    assert task["priority"] == "urgent"
    assert task["status"] == "requested"
    assert task["owner"] == {"reference": f"Organization/{centre.id}"}
    assert task["focus"] == {"reference": f"Observation/{crisis.reading.id}"}
    assert reading_ids(task) == [crisis.reading.id]
    assert "186/112 mmHg" in task["description"]
    async with store.reading(EVERYTHING) as tx:
        flags = await find(tx, "Flag", [("patient", f"Patient/{patient.id}")])
    assert [f["status"] for f in flags] == ["active"]
    assert validate_structure(flags[0]) == []

    # A second crisis joins the open alert instead of raising another.
    worse = await record(store, patient.caller, patient.id, bp(1, 195, 118), plan_id)
    await evaluate_plan(store, plan_id, now=NOW)
    found = await tasks(store, patient.id)
    assert len(found) == 1
    assert reading_ids(found[0]) == [crisis.reading.id, worse.reading.id]
    assert found[0]["focus"] == {"reference": f"Observation/{worse.reading.id}"}


async def test_two_evaluations_at_once_raise_the_alert_once(
        store: Store, centre: Centre) -> None:
    booked, plan_id = await enrolled(store, centre)
    await record(store, booked.patient.caller, booked.patient.id, bp(1, 190, 100), plan_id)
    await asyncio.gather(*(evaluate_plan(store, plan_id, now=NOW) for _ in range(4)))
    assert [rule_of(t) for t in await tasks(store, booked.patient.id)] == ["bp-urgent"]


async def test_a_gateway_posting_through_the_fhir_api_is_watched_and_deduplicated(
        client: httpx.AsyncClient, store: Store, centre: Centre) -> None:
    booked, _ = await enrolled(store, centre)
    await watch_once(store, now=NOW)  # the watcher's cursor starts here
    observation = observation_of(bp(0.5, 165, 102, key="urn:uuid:"
                                    "4f0c7f3e-9d1a-4b8e-9a55-2f2b5c1d0a11"),
                                 booked.patient.id, None)
    headers = {"If-None-Exist": "identifier=urn:ietf:rfc:3986|urn:uuid:"
                                "4f0c7f3e-9d1a-4b8e-9a55-2f2b5c1d0a11"}
    first = await client.post("/Observation", json=observation, headers=headers)
    again = await client.post("/Observation", json=observation, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert await watch_once(store, now=NOW) == 1
    assert await watch_once(store, now=NOW) == 1  # looks back a little: nothing new raised
    found = await tasks(store, booked.patient.id)
    assert [rule_of(t) for t in found] == ["bp-high"]
    assert reading_ids(found[0]) == [first.json()["id"]]


async def test_days_without_readings_raise_one_missing_alert_closed_by_the_next_reading(
        store: Store, centre: Centre) -> None:
    booked, plan_id = await enrolled(store, centre, "diabetes")
    later = NOW + timedelta(days=CITY_DEFAULTS.missing_days, hours=1)
    assert await check_gaps(store, now=later) >= 1
    assert await check_gaps(store, now=later + timedelta(hours=1)) >= 1
    found = await tasks(store, booked.patient.id)
    assert sorted(rule_of(t) or "" for t in found) == ["bp-missing", "glucose-missing"]
    assert {t["priority"] for t in found} == {"routine"}

    reading = Reading("glucose", later, {"glucose": 110}, "fasting")
    await record(store, booked.patient.caller, booked.patient.id, reading, plan_id)
    await evaluate_plan(store, plan_id, now=later + timedelta(minutes=1))
    statuses = {rule_of(t): t["status"] for t in await tasks(store, booked.patient.id)}
    assert statuses == {"bp-missing": "requested", "glucose-missing": "completed"}
    async with store.reading(EVERYTHING) as tx:
        flags = await find(tx, "Flag", [("patient", f"Patient/{booked.patient.id}")])
    assert sorted(f["status"] for f in flags) == ["active", "inactive"]


async def test_the_hourly_gap_check_runs_only_the_plans_of_patients_without_a_recent_reading(
        store: Store, centre: Centre) -> None:
    later = NOW + timedelta(days=CITY_DEFAULTS.missing_days, hours=1)
    sending, sending_plan = await enrolled(store, centre)
    stopped, stopped_plan = await enrolled(store, centre)
    half, half_plan = await enrolled(store, centre, "hypertension", "diabetes")
    # Blood pressure an hour ago; the others enrolled five days ago.
    sent = Reading("bp", later - timedelta(hours=1), {"systolic": 128, "diastolic": 82})
    await record(store, sending.patient.caller, sending.patient.id, sent, sending_plan)
    await record(store, half.patient.caller, half.patient.id, sent, half_plan)
    # Sent and then marked as entered in error: no reading after all.
    wrong = Reading("bp", later - timedelta(hours=2), {"systolic": 130, "diastolic": 80})
    await record(store, stopped.patient.caller, stopped.patient.id, wrong, stopped_plan)
    async with store.writing(EVERYTHING) as tx:
        entered = await find(tx, "Observation", [("patient", f"Patient/{stopped.patient.id}")])
        await tx.update("Observation", entered[0]["id"],
                        {**entered[0], "status": "entered-in-error"})

    # The one who stopped, and the one whose blood sugar is missing (weight is not chased).
    assert await check_gaps(store, now=later) == 2
    assert [rule_of(t) for t in await tasks(store, sending.patient.id)] == []
    assert [rule_of(t) for t in await tasks(store, stopped.patient.id)] == ["bp-missing"]
    assert [rule_of(t) for t in await tasks(store, half.patient.id)] == ["glucose-missing"]


async def test_a_nurse_changes_a_plan_s_thresholds_and_its_goal(
        store: Store, centre: Centre) -> None:
    booked, plan_id = await enrolled(store, centre)
    plan = await active_plan(store, centre.nurse.caller, booked.patient.id)
    assert plan is not None
    stricter = CITY_DEFAULTS.__class__(target_systolic=130, bp_high_systolic=150)
    changed = await change_thresholds(store, centre.nurse.caller, plan_id, stricter,
                                      version=plan.version)
    assert changed.thresholds == stricter
    async with store.reading(EVERYTHING) as tx:
        goal = (await tx.read("Goal", plan.goal_ids[0])).resource()
    assert goal["target"][0]["detailQuantity"]["value"] == 130

    with pytest.raises(PlanRefused, match="same moment"):
        await change_thresholds(store, centre.nurse.caller, plan_id, CITY_DEFAULTS,
                                version=plan.version)
    with pytest.raises(PlanRefused, match="nurses and doctors"):
        await change_thresholds(store, booked.patient.caller, plan_id, CITY_DEFAULTS,
                                version=changed.version)

    await record(store, booked.patient.caller, booked.patient.id, bp(1, 152, 80), plan_id)
    await evaluate_plan(store, plan_id, now=NOW)
    assert [rule_of(t) for t in await tasks(store, booked.patient.id)] == ["bp-high"]
