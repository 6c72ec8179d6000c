"""A video consultation in two Chromium browsers at once, the patient's and the doctor's,
with the fake camera and microphone: the patient passes the device check and waits, the
doctor admits them, each side decodes the other's video and receives its sound (asserted
through ``RTCPeerConnection.getStats()``), a chat message and a photo arrive, the call
comes back after the patient reloads the page, and a third person cannot join."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, expect
from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.roles import Role
from mor.config import Settings
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.booking import book, free_times
from mor.services.scheduling.rosters import Shift
from tests.auth.people import PASSWORD
from tests.conftest import running_mor
from tests.e2e.conftest import check_accessibility, screenshot, watched_page
from tests.e2e.test_booking_in_chromium import sign_in_staff
from tests.scheduling.centre import BANGKOK, EVERY_DAY, MadeCentre, make_centre

# What each side's peer connection has received: frames of the other's camera decoded,
# and samples of the other's microphone (the fake one beeps).
RECEIVED = """async () => {
  const pc = window.morCall && window.morCall.pc;
  if (!pc || pc.connectionState !== "connected") return null;
  const got = { frames: 0, samples: 0 };
  (await pc.getStats()).forEach((report) => {
    if (report.type !== "inbound-rtp") return;
    if (report.kind === "video") got.frames += report.framesDecoded || 0;
    if (report.kind === "audio") got.samples += report.totalSamplesReceived || 0;
  });
  return got.frames > 10 && got.samples > 1000 ? got : null;
}"""
# A 1x1 PNG: a photo of a rash, as far as the test is concerned.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082")


async def patient_with_appointment_now(store: Store, made: MadeCentre) -> tuple[str, str]:
    """A patient who can sign in, with an appointment starting now; their username and
    the appointment's id."""
    async with store.writing(EVERYTHING) as tx:
        patient = await tx.create({"resourceType": "Patient",
                                   "name": [{"given": ["Malee"], "family": "Video"}]})
    username = f"patient-{uuid.uuid4().hex[:8]}"
    account = await Accounts(store.engine).add(username, PASSWORD, Role.PATIENT,
                                               fhir_user=patient.reference, verified=True)
    caller = await person_caller(store, account)
    now = datetime.now(BANGKOK)
    first = (await free_times(store, made.service.id, now, now + timedelta(days=2),
                              limit=1))[0]
    booked = await book(store, caller, patient.id, first.slot_id, video=True)
    # The first free time may be later today or tomorrow; the consult opens on the day,
    # so the test's appointment is moved to start now.
    async with store.writing(EVERYTHING) as tx:
        stored = await tx.read("Appointment", booked.appointment_id)
        appointment = {k: v for k, v in stored.resource().items() if k != "meta"}
        appointment["start"] = now.isoformat(timespec="seconds")
        appointment["end"] = (now + timedelta(minutes=15)).isoformat(timespec="seconds")
        await tx.update("Appointment", booked.appointment_id, appointment)
    return username, booked.appointment_id


async def sign_in_patient(page: Page, username: str, next_url: str) -> None:
    await page.goto("/auth/login?next=" + next_url)
    await page.fill("[name=username]", username)
    await page.fill("[name=password]", PASSWORD)
    await page.keyboard.press("Enter")
    # By path: the sign-in page's own address ends with next=/appointments too.
    await page.wait_for_url(lambda url: urlsplit(url).path == next_url)


async def received_media(page: Page, within: float = 20) -> dict[str, Any]:
    """What the page's call received, once it has video and sound from the other side
    (Playwright's wait_for_function does not wait for an async function's promise)."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        got: dict[str, Any] | None = await page.evaluate(RECEIVED)
        if got:
            return got
        await asyncio.sleep(0.5)
    status = await page.evaluate("window.morCall && window.morCall.status")
    raise AssertionError(f"no video and sound arrived on {page.url} in {within} s; "
                         f"the page says: {status!r}")


async def in_a_call(store: Store, patient: Page, doctor: Page) -> MadeCentre:
    """A new centre's patient with an appointment now joins by video and its doctor
    admits them; returns once each side receives the other's video and sound."""
    made = await make_centre(store, shifts=(Shift(EVERY_DAY, time(0), time(23, 59)),))
    username, _ = await patient_with_appointment_now(store, made)
    await sign_in_patient(patient, username, "/appointments")
    await patient.get_by_role("link", name="Join by video").click()
    await patient.wait_for_url("**/video/*")
    await sign_in_staff(doctor, made.doctor_username, "/staff/video")
    await doctor.locator("main button", has_text="Admit").first.click()
    await doctor.wait_for_url("**/video/*")
    for side in (patient, doctor):
        assert await received_media(side)
    return made


@pytest.fixture
def doctor_site(mor_site: str, settings: Settings) -> Iterator[str]:
    """Where the doctor's browser goes. A city on PostgreSQL runs several server
    processes, and the doctor and the patient often reach different ones: the doctor
    gets a second process here. SQLite runs one process, the patient's."""
    if not settings.database_url.startswith("postgresql"):
        yield mor_site
        return
    with running_mor(settings) as base:
        yield base.removesuffix("/fhir")


async def test_patient_and_doctor_see_and_hear_each_other(
        chromium: Browser, mor_site: str, doctor_site: str, app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store, shifts=(Shift(EVERY_DAY, time(0), time(23, 59)),))
    username, _ = await patient_with_appointment_now(store, made)
    async with watched_page(chromium, mor_site) as patient, \
            watched_page(chromium, doctor_site) as doctor:
        await sign_in_patient(patient, username, "/appointments")
        await patient.get_by_role("link", name="Join by video").click()
        await patient.wait_for_url("**/video/*")
        checks = patient.locator("#device-check")
        await expect(checks.locator("[data-check=camera]")).to_contain_text("works")
        await expect(checks.locator("[data-check=microphone]")).to_contain_text("works")
        await expect(checks.locator("[data-check=connection]")).to_contain_text("kbit/s")
        await expect(patient.locator("#queue")).to_contain_text("next")
        await check_accessibility(patient)
        await screenshot(patient, "video-waiting-room-phone")

        await sign_in_staff(doctor, made.doctor_username, "/staff/video")
        await expect(doctor.locator("main")).to_contain_text("Malee")
        await check_accessibility(doctor)
        await doctor.get_by_role("button", name="Admit Malee Video").click()
        await doctor.wait_for_url("**/video/*")
        encounter_id = doctor.url.rsplit("/", 1)[1]

        # Admitted: the patient's page starts the call by itself.
        for side in (patient, doctor):
            assert await received_media(side)
            await expect(side.locator("#call-status")).to_have_text("Connected")
        await check_accessibility(doctor)  # the call with the patient's record beside it
        await screenshot(doctor, "video-call-desktop", "desktop")

        await patient.fill("#chat-form [name=text]", "The rash started on Monday")
        await patient.locator("#chat-form [type=submit]").click()
        await expect(doctor.locator("#messages")).to_contain_text("The rash started on Monday")
        await patient.set_input_files("#chat-form [name=photo]", files=[
            {"name": "rash.png", "mimeType": "image/png", "buffer": PNG}])
        await patient.locator("#chat-form [type=submit]").click()
        photo = doctor.locator("#messages img")
        await expect(photo).to_have_count(1)
        # Loaded lazily: only once it is on the screen (decode() waits until then).
        await photo.scroll_into_view_if_needed()
        assert await photo.evaluate("image => image.decode().then(() => image.naturalWidth)") \
            == 1

        # A reload (or a dropped page) comes back into the same call, not the waiting room.
        await patient.reload()
        assert await received_media(patient)
        await expect(patient.locator("#messages")).to_contain_text("The rash started")
        await check_accessibility(patient)

        async with watched_page(chromium, mor_site) as stranger:
            other, _ = await patient_with_appointment_now(store, made)
            await sign_in_patient(stranger, other, "/appointments")
            answer = await stranger.goto(f"/video/{encounter_id}")
            assert answer is not None and answer.status == 403
            closed = await stranger.evaluate("""url => new Promise((resolve) => {
                const socket = new WebSocket(url);
                socket.onclose = (event) => resolve(event.code);
            })""", f"{mor_site.replace('http', 'ws')}/video/{encounter_id}/signal")
            assert closed == 4403
