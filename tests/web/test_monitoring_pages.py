"""The nurse's pages for home readings: the worklist shows the crisis, and from the
patient's page the nurse messages them, books a video consultation and acknowledges."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from starlette.applications import Starlette

from mor.auth.roles import Role
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.alerts import evaluate_plan
from mor.services.monitoring.plans import enrol
from mor.services.monitoring.readings import Reading, record
from mor.services.scheduling.booking import book, free_times
from mor.services.scheduling.lookup import find
from mor.services.staff import add_account
from tests.auth.people import PASSWORD
from tests.conftest import empty_database
from tests.scheduling.centre import make_centre, patient_caller
from tests.video.conftest import tomorrow_at
from tests.web.browser import browser, hidden, sign_in_staff


async def test_the_nurse_sees_the_crisis_and_acts_on_it(app: Starlette) -> None:
    await empty_database(app)
    store = app.state.store
    made = await make_centre(store)
    await add_account(store, "nurse-ploy", PASSWORD, Role.NURSE, name="Nurse Ploy",
                      organizations=(made.centre.id,))
    caller, patient_id = await patient_caller(store)
    times = await free_times(store, made.service.id, tomorrow_at(0), tomorrow_at(23))
    await book(store, caller, patient_id, times[0].slot_id)
    now = datetime.now(UTC)
    plan = await enrol(store, caller, patient_id, ["hypertension"], now=now - timedelta(days=1))
    await record(store, caller, patient_id, Reading("bp", now - timedelta(hours=3), {
        "systolic": 150, "diastolic": 88}), plan.id)
    await record(store, caller, patient_id, Reading("bp", now - timedelta(hours=1), {
        "systolic": 188, "diastolic": 114, "pulse": 90}), plan.id)
    await evaluate_plan(store, plan.id, now=now)

    async with browser(app) as http:
        answer = await sign_in_staff(http, "nurse-ploy", PASSWORD, "/staff/monitoring")
        page = (await http.get(answer.headers["location"])).text
        assert "Malee Test" in page
        assert "Urgent: today" in page
        assert "Blood pressure dangerously high: 188/114 mmHg · 90/min" in page
        assert "<polyline" in page  # the trend

        patient_page = (await http.get(f"/staff/monitoring/{patient_id}")).text
        assert "Readings of the last 30 days" in patient_page
        # Both readings off the target, marked on both lines, and the legend says so.
        assert patient_page.count(">!</text>") == 2 * 2 + 1
        csrf = hidden(patient_page, "csrf_token")

        sent = await http.post(f"/staff/monitoring/{patient_id}/message", data={
            "csrf_token": csrf, "text": "Rest 5 minutes and measure again, please",
            "task": hidden(patient_page, "task")})
        assert sent.status_code == 303
        assert "The message is sent" in (await http.get(sent.headers["location"])).text

        slot = re.search(r'name="slot" value="([^"]+)" checked', patient_page)
        assert slot is not None
        booked = await http.post(f"/staff/monitoring/{patient_id}/book", data={
            "csrf_token": csrf, "slot": slot.group(1)})
        assert booked.status_code == 303
        async with store.reading(EVERYTHING) as tx:
            appointments = await find(tx, "Appointment",
                                      [("patient", f"Patient/{patient_id}")])
        assert len(appointments) == 2

        acknowledged = await http.post(f"/staff/monitoring/{patient_id}/acknowledge", data={
            "csrf_token": csrf, "task": hidden(patient_page, "task"),
            "version": hidden(patient_page, "version"), "note": "Called; resting",
            "back": "worklist"})
        assert acknowledged.status_code == 303
        page = (await http.get(acknowledged.headers["location"])).text
        assert "No alerts" in page

        # The page the nurse still has open: acting again says so, in words.
        again = await http.post(f"/staff/monitoring/{patient_id}/acknowledge", data={
            "csrf_token": csrf, "task": hidden(patient_page, "task"),
            "version": hidden(patient_page, "version")})
        assert again.status_code == 409
        assert "Someone has dealt with this alert already" in again.text
        bad = await http.post(f"/staff/monitoring/{patient_id}/thresholds", data={
            "csrf_token": csrf, "plan": plan.id, "version": plan.version,
            "target_systolic": "high"})
        assert bad.status_code == 400
        assert "Target: systolic below: write a number" in bad.text


async def test_a_doctor_of_another_centre_sees_none_of_its_patients(app: Starlette) -> None:
    await empty_database(app)
    store = app.state.store
    made = await make_centre(store)
    other = await make_centre(store)
    caller, patient_id = await patient_caller(store)
    times = await free_times(store, made.service.id, tomorrow_at(0), tomorrow_at(23))
    await book(store, caller, patient_id, times[0].slot_id)
    async with browser(app) as http:
        answer = await sign_in_staff(http, other.doctor_username, PASSWORD,
                                     f"/staff/monitoring/{patient_id}")
        page = await http.get(answer.headers["location"])
        assert page.status_code == 404
        assert "Malee" not in page.text
