"""Home readings taken without a connection, in Chromium: the patient enrols, the phone
goes offline, they save a hypertensive crisis (185/115) and their weight, the page says
they are kept on the phone; back online, both reach mor once and show on the page's
charts without a reload, the crisis raises an urgent alert for the health centre, and
sending the same readings again (an answer lost on the way) adds nothing. The centre's
nurse finds the crisis on the worklist and books the patient a video consultation, which
the patient then sees."""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import Browser, Page, Request, Response, expect
from starlette.applications import Starlette

from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.alerts import ALERT_CODE
from mor.services.scheduling.lookup import find
from tests.auth.people import PASSWORD
from tests.e2e.conftest import check_accessibility, watched_page
from tests.e2e.test_booking_in_chromium import sign_in_staff
from tests.scheduling.centre import make_centre
from tests.video.conftest import clinician_at
from tests.web.test_video_pages import patient_of

QUEUE = "mor.readings.queue"


async def _observations(store: Store, patient_id: str) -> list[dict[str, Any]]:
    async with store.reading(EVERYTHING) as tx:
        return await find(tx, "Observation", [("patient", f"Patient/{patient_id}")])


async def test_readings_saved_offline_arrive_once_and_the_nurse_books_a_video_consult(
        page: Page, app: Starlette, chromium: Browser, mor_site: str) -> None:
    store = app.state.store
    made = await make_centre(store)
    nurse = await clinician_at(store, made.centre.id, Role.NURSE, "Nurse Ploy")
    assert nurse.caller.account is not None
    username, patient_id = await patient_of(store, made, "Malee")
    sent: list[dict[str, Any]] = []
    answers: list[int] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/my/readings"):
            sent.append(json.loads(request.post_data or "{}"))

    def on_response(response: Response) -> None:
        if response.request.method == "POST" and response.url.endswith("/my/readings"):
            answers.append(response.status)

    page.on("request", on_request)
    page.on("response", on_response)

    await page.goto("/auth/login?next=/my/readings")
    await page.fill("[name=username]", username)
    await page.fill("[name=password]", PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/my/readings")
    await page.get_by_label("High blood pressure").check()
    await page.get_by_role("button", name="Start home monitoring").click()
    await expect(page.locator("#due")).to_contain_text("Blood pressure")
    await check_accessibility(page)

    status = page.locator("#readings-status")
    pending = page.locator("#readings-pending li")
    await page.context.set_offline(True)
    bp = page.locator("form[data-reading=bp]")
    await bp.get_by_label("Upper number (systolic)").fill("185")
    await bp.get_by_label("Lower number (diastolic)").fill("115")
    await bp.get_by_role("button", name="Save").click()
    await expect(status).to_have_text(
        "Saved on this phone; it will be sent when you are online.")
    weight = page.locator("form[data-reading=weight]")
    await weight.get_by_label("Weight").fill("70.5")
    await weight.get_by_role("button", name="Save").click()
    await expect(pending).to_have_count(2)
    await expect(pending.first).to_contain_text("185/115")
    await expect(bp.get_by_label("Upper number (systolic)")).to_have_value("")
    assert await _observations(store, patient_id) == []
    assert len(json.loads(await page.evaluate(f"localStorage.getItem('{QUEUE}')"))) == 2

    await page.context.set_offline(False)
    await expect(status).to_have_text("Sent to your health centre.")
    await expect(pending).to_have_count(0)
    # On the chart and in the list without opening the page again; nothing is due today.
    await expect(page.locator("#charts figure").filter(has_text="Weight")).to_contain_text(
        "70.5")
    await expect(page.locator("#recent")).to_contain_text("185/115")
    await expect(page.locator("#due")).to_contain_text("All of today's readings are in")
    stored = await _observations(store, patient_id)
    assert sorted(o["identifier"][0]["value"] for o in stored) == sorted(
        {body["key"] for body in sent})
    assert len(stored) == 2
    assert all(body["key"].startswith("urn:uuid:") for body in sent)
    async with store.reading(EVERYTHING) as tx:
        alerts = await find(tx, "Task", [("code", ALERT_CODE),
                                         ("patient", f"Patient/{patient_id}")])
    assert [a["priority"] for a in alerts] == ["urgent"]

    # The answers were lost, say: the phone sends the same readings again.
    again = [{"patient": patient_id, "body": body, "label": "again"}
             for body in {b["key"]: b for b in sent}.values()]
    answers.clear()
    await page.evaluate("([name, queue]) => localStorage.setItem(name, queue)",
                        [QUEUE, json.dumps(again)])
    await page.evaluate("window.dispatchEvent(new Event('online'))")
    await expect(status).to_have_text("Sent to your health centre.")
    await expect(pending).to_have_count(0)
    assert answers == [200, 200]  # mor had them already
    assert len(await _observations(store, patient_id)) == 2

    async with watched_page(chromium, mor_site) as nursing:
        await sign_in_staff(nursing, nurse.caller.account.username, "/staff/monitoring")
        row = nursing.locator(f"tr[data-patient='{patient_id}']")
        await expect(row).to_contain_text("Blood pressure dangerously high: 185/115 mmHg")
        await row.locator("a").click()
        await nursing.locator("#book-video button[type=submit]").click()
        await expect(nursing.locator("p.notice")).to_contain_text(
            "The video consultation is booked")
    await page.goto("/appointments")
    await expect(page.locator("article.appointment")).to_contain_text("By video")
