"""A nurse's day with home readings, in Chromium: a device gateway posts a patient's
blood pressure in crisis through the FHIR API (twice, as gateways retry), mor's watcher
raises one urgent alert, the nurse finds it at the top of the worklist, books the
patient a video consultation from the patient's page and acknowledges the alert."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from playwright.async_api import Page, expect
from starlette.applications import Starlette

from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.codes import READING_ID_SYSTEM
from mor.services.monitoring.plans import enrol
from mor.services.monitoring.readings import Reading, observation_of
from mor.services.scheduling.booking import book, free_times
from mor.services.scheduling.lookup import find
from tests.conftest import backend_token
from tests.e2e.conftest import check_accessibility, screenshot
from tests.e2e.test_booking_in_chromium import sign_in_staff
from tests.scheduling.centre import make_centre, patient_caller
from tests.video.conftest import clinician_at, tomorrow_at

WATCHER_SECONDS = 30  # it looks every 5 s


async def until_listed(page: Page, patient_id: str) -> None:
    """Reloads the worklist until the watcher has raised the patient's alert."""
    row = page.locator(f"tr[data-patient='{patient_id}']")
    for _ in range(WATCHER_SECONDS):
        if await row.count():
            return
        await asyncio.sleep(1)
        await page.reload()
    raise AssertionError(f"no alert for Patient/{patient_id} on the worklist after "
                         f"{WATCHER_SECONDS} s")


async def test_a_gateway_reading_reaches_the_nurse_who_books_a_video_consult(
        page: Page, app: Starlette, live_server: str) -> None:
    store: Store = app.state.store
    made = await make_centre(store)
    nurse = await clinician_at(store, made.centre.id, Role.NURSE, "Nurse Ploy")
    assert nurse.caller.account is not None
    caller, patient_id = await patient_caller(store)
    times = await free_times(store, made.service.id, tomorrow_at(0), tomorrow_at(23))
    await book(store, caller, patient_id, times[0].slot_id)
    now = datetime.now(UTC)
    await enrol(store, caller, patient_id, ["hypertension"], now=now - timedelta(days=1))

    crisis = observation_of(Reading("bp", now - timedelta(minutes=10),
                                    {"systolic": 186, "diastolic": 112, "pulse": 96},
                                    key="urn:uuid:0d9b7a52-3c1e-4c59-8f0e-6b8a2f4c7d11",
                                    source="BP gateway"), patient_id, None)
    # A token of its own, as a gateway gets one: the suite's may have expired by now.
    token = await backend_token(store.engine, "system/Observation.crs")
    async with httpx.AsyncClient(base_url=live_server,
                                 headers={"Authorization": f"Bearer {token}"}) as gateway:
        for _ in range(2):
            sent = await gateway.post("/Observation", json=crisis, headers={
                "If-None-Exist": f"identifier={READING_ID_SYSTEM}|"
                                 "urn:uuid:0d9b7a52-3c1e-4c59-8f0e-6b8a2f4c7d11"})
            assert sent.status_code in (200, 201)

    await sign_in_staff(page, nurse.caller.account.username, "/staff/monitoring")
    await until_listed(page, patient_id)
    row = page.locator(f"tr[data-patient='{patient_id}']")
    await expect(row).to_contain_text("Urgent: today")
    await expect(row).to_contain_text("Blood pressure dangerously high: 186/112 mmHg")
    await check_accessibility(page)
    await screenshot(page, "monitoring-worklist-phone")

    await row.locator("a").click()
    await page.wait_for_url(f"**/staff/monitoring/{patient_id}**")
    await check_accessibility(page)
    await page.locator("#book-video button[type=submit]").click()
    await expect(page.locator("p.notice")).to_contain_text(
        "The video consultation is booked")
    async with store.reading(EVERYTHING) as tx:
        appointments = await find(tx, "Appointment", [("patient", f"Patient/{patient_id}")])
        observations = await find(tx, "Observation", [("patient", f"Patient/{patient_id}")])
        alerts = await find(tx, "Task", [("patient", f"Patient/{patient_id}")])
    assert len(appointments) == 2
    assert len(observations) == 1  # sent twice, stored once
    assert len(alerts) == 1

    await page.locator("article.alert button[value=acknowledge]").click()
    await expect(page.locator("p.notice")).to_contain_text("The alert is acknowledged")
    await page.goto("/staff/monitoring")
    await expect(page.locator("main")).to_contain_text("No alerts")
