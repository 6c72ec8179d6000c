"""The patient's booking pages, through HTTP as a browser uses them: choose a centre and
a service, book a time, see it, move it, cancel it; and be told when someone else took
the time first."""

from __future__ import annotations

import re
import uuid

import httpx
from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.auth.roles import Role
from mor.fhir.visibility import EVERYTHING
from tests.auth.people import PASSWORD
from tests.conftest import empty_database
from tests.scheduling.centre import make_centre
from tests.web.browser import browser, hidden, sign_in


async def patient(app: Starlette) -> str:
    store = app.state.store
    async with store.writing(EVERYTHING) as tx:
        stored = await tx.create({"resourceType": "Patient",
                                  "name": [{"given": ["Malee"], "family": "Jaidee"}]})
    username = f"malee-{uuid.uuid4().hex[:6]}"
    await Accounts(store.engine).add(username, PASSWORD, Role.PATIENT,
                                     fhir_user=stored.reference)
    return username


def slot_buttons(page: str) -> list[str]:
    return re.findall(r'name="slot" value="([^"]+)"', page)


async def test_a_patient_books_moves_and_cancels_an_appointment(app: Starlette) -> None:
    await empty_database(app)
    made = await make_centre(app.state.store)
    username = await patient(app)
    async with browser(app) as http:
        centres = (await http.get("/book", params={"district": "Bang Rak"})).text
        assert "Bang Rak Health Centre" in centres
        services = (await http.get(f"/book/{made.centre.id}")).text
        assert "General practice" in services
        times_url = f"/book/{made.centre.id}/{made.service.id}"
        anonymous = (await http.get(times_url)).text
        assert "To book, sign in" in anonymous and not slot_buttons(anonymous)

        await sign_in(http, username, PASSWORD, times_url)
        page = (await http.get(times_url)).text
        first, second = slot_buttons(page)[:2]
        booked = await http.post(times_url, data={"slot": first,
                                                  "csrf_token": hidden(page, "csrf_token")})
        assert booked.status_code == 303
        mine = (await http.get(booked.headers["location"])).text
        assert "Booked." in mine and "General practice" in mine
        assert "09:00" in mine

        appointment = re.search(r"/appointments/([^/]+)/reschedule", mine)
        assert appointment is not None
        moving = (await http.get(appointment.group(0))).text
        assert "Moving your appointment" in moving
        moved = await http.post(appointment.group(0), data={
            "slot": second, "csrf_token": hidden(moving, "csrf_token")})
        assert moved.status_code == 303
        mine = (await http.get(moved.headers["location"])).text
        assert "09:15" in mine and "has been moved" in mine

        cancelled = await http.post(f"/appointments/{appointment.group(1)}/cancel",
                                    data={"csrf_token": hidden(mine, "csrf_token")})
        mine = (await http.get(cancelled.headers["location"])).text
        assert "has been cancelled" in mine and "Nothing booked." in mine
        assert "Cancelled" in mine  # under "Earlier"


async def test_the_second_to_press_book_is_offered_the_next_free_times(
        app: Starlette) -> None:
    await empty_database(app)
    made = await make_centre(app.state.store)
    times_url = f"/book/{made.centre.id}/{made.service.id}"
    first_patient, second_patient = await patient(app), await patient(app)
    async with browser(app) as one, browser(app, "th") as two:
        await sign_in(one, first_patient, PASSWORD)
        await sign_in(two, second_patient, PASSWORD)
        page_one, page_two = (await one.get(times_url)).text, (await two.get(times_url)).text
        slot = slot_buttons(page_one)[0]
        assert (await one.post(times_url, data={
            "slot": slot, "csrf_token": hidden(page_one, "csrf_token")})).status_code == 303
        late = await two.post(times_url, data={"slot": slot,
                                               "csrf_token": hidden(page_two, "csrf_token")})
        assert late.status_code == 409
        assert 'role="alert"' in late.text
        offered = re.search(r'<div class="error".*?</div>', late.text, re.S)
        assert offered is not None and len(slot_buttons(offered.group(0))) >= 3
        assert slot not in slot_buttons(late.text)


async def test_a_patient_chooses_a_video_consultation_and_keeps_it_when_moving(
        app: Starlette) -> None:
    await empty_database(app)
    made = await make_centre(app.state.store)
    times_url = f"/book/{made.centre.id}/{made.service.id}"
    username = await patient(app)
    async with browser(app) as http:
        await sign_in(http, username, PASSWORD, times_url)
        page = (await http.get(times_url)).text
        assert 'name="how" value="video"' in page
        first, second = slot_buttons(page)[:2]
        booked = await http.post(times_url, data={
            "slot": first, "how": "video", "csrf_token": hidden(page, "csrf_token")})
        mine = (await http.get(booked.headers["location"])).text
        assert "By video" in mine
        appointment = re.search(r"/appointments/([^/]+)/reschedule", mine)
        assert appointment is not None
        moving = (await http.get(appointment.group(0))).text
        assert 'name="how"' not in moving  # moving keeps how it was booked
        await http.post(appointment.group(0), data={
            "slot": second, "csrf_token": hidden(moving, "csrf_token")})
    async with app.state.store.reading(EVERYTHING) as tx:
        stored = (await tx.read("Appointment", appointment.group(1))).resource()
    # As US Core's telehealth example says it: a SNOMED CT serviceType.
    codes = {(c["system"], c["code"]) for t in stored["serviceType"] for c in t["coding"]}
    assert ("http://snomed.info/sct", "448337001") in codes
    assert stored["slot"] == [{"reference": f"Slot/{second}"}]


async def test_nothing_is_booked_without_the_form_token(app: Starlette) -> None:
    await empty_database(app)
    made = await make_centre(app.state.store)
    times_url = f"/book/{made.centre.id}/{made.service.id}"
    username = await patient(app)
    async with browser(app) as http:
        await sign_in(http, username, PASSWORD)
        slot = slot_buttons((await http.get(times_url)).text)[0]
        forged = await http.post(times_url, data={"slot": slot, "csrf_token": "guess"})
        assert forged.status_code == 303 and "/auth/login" in forged.headers["location"]
        assert slot in slot_buttons((await http.get(times_url)).text)


async def test_every_page_has_the_emergency_button(app: Starlette,
                                                   client: httpx.AsyncClient) -> None:
    made = await make_centre(app.state.store)
    async with browser(app) as http:
        for path in ("/", "/book", f"/book/{made.centre.id}", "/auth/login", "/register"):
            page = (await http.get(path)).text
            assert 'href="tel:1669"' in page, path
