"""An administrator sets up a health centre, its services, its roster and a closed day,
through the pages; the slots they make appear to patients at once."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time, timedelta

from starlette.applications import Starlette

from mor.auth.roles import Role
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.booking import book, free_times
from mor.services.scheduling.closures import close_day
from mor.services.staff import add_account
from tests.auth.people import PASSWORD
from tests.conftest import empty_database
from tests.scheduling.centre import BANGKOK, make_centre, patient_caller
from tests.web.browser import browser, hidden, sign_in_staff


async def test_an_admin_sets_up_a_centre_whose_slots_patients_then_see(
        app: Starlette) -> None:
    await empty_database(app)
    admin = f"city-{uuid.uuid4().hex[:6]}"
    await add_account(app.state.store, admin, PASSWORD, Role.CITY_ADMIN)
    async with browser(app) as http:
        answer = await sign_in_staff(http, admin, PASSWORD, "/admin/centres/new")
        form = (await http.get(answer.headers["location"])).text
        created = await http.post("/admin/centres/new", data={
            "csrf_token": hidden(form, "csrf_token"), "name_th": "ศูนย์บริการสาธารณสุข ดินแดง",
            "name_en": "Din Daeng Health Centre", "district_th": "ดินแดง",
            "district_en": "Din Daeng", "address": "Mit Maitri Road", "city": "Bangkok",
            "country": "th", "latitude": "13.7700", "longitude": "100.5530",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "opens": "08:00",
            "closes": "16:00", "language": "th"})
        assert created.status_code == 303, created.text
        centre_url = created.headers["location"]
        centre_id = centre_url.rsplit("/", 1)[1]
        page = (await http.get(centre_url)).text
        assert "No doctors or nurses work here yet" in page

        added = await http.post(centre_url, data={
            "csrf_token": hidden(page, "csrf_token"), "action": "add-service",
            "kind": "diabetes", "slot_minutes": "20", "capacity": "1"})
        assert added.status_code == 303
        await add_account(app.state.store, f"nurse-{uuid.uuid4().hex[:6]}", PASSWORD,
                          Role.NURSE, name="Nurse Pranee", organizations=(centre_id,))
        page = (await http.get(centre_url)).text
        service_id = re.search(r'<select name="service"><option value="([^"]+)"', page)
        clinician_id = re.search(r'<select name="clinician"><option value="([^"]+)">'
                                 r'Nurse Pranee', page)
        assert service_id and clinician_id, page
        rostered = await http.post(centre_url, data={
            "csrf_token": hidden(page, "csrf_token"), "action": "add-roster",
            "clinician": clinician_id.group(1), "service": service_id.group(1),
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "13:00",
            "end": "14:00"})
        assert rostered.status_code == 303
        page = (await http.get(rostered.headers["location"])).text
        assert "Nurse Pranee" in page and "13:00\N{EN DASH}14:00" in page

        # A patient, not signed in, sees the new times at once, in Thai.
        async with browser(app, "th") as patient:
            centres = (await patient.get("/book")).text
            assert "ศูนย์บริการสาธารณสุข ดินแดง" in centres
            times = (await patient.get(f"/book/{centre_id}/{service_id.group(1)}?page=1")).text
            assert "13:00" in times and "13:40" in times and "14:00" not in times
            assert "ติดตามโรคเรื้อรัง: เบาหวาน" in times

        # Closing a day next week takes its times away (the page of days 6 to 8).
        day = datetime.now(BANGKOK).date() + timedelta(days=8)
        closed = await http.post(centre_url, data={
            "csrf_token": hidden(page, "csrf_token"), "action": "close",
            "day": day.isoformat(), "reason": "Chakri Day"})
        assert closed.status_code == 303
        page = (await http.get(centre_url)).text
        assert "Chakri Day" in page
        async with browser(app) as patient:
            times = (await patient.get(f"/book/{centre_id}/{service_id.group(1)}?page=2")).text
            assert day.strftime("%A %-d %B") not in times
            assert (day - timedelta(days=1)).strftime("%A %-d %B") in times


async def test_a_form_with_a_mistake_says_what_to_fix_and_saves_nothing(
        app: Starlette) -> None:
    await empty_database(app)
    admin = f"city-{uuid.uuid4().hex[:6]}"
    await add_account(app.state.store, admin, PASSWORD, Role.CITY_ADMIN)
    async with browser(app, "lo") as http:
        answer = await sign_in_staff(http, admin, PASSWORD, "/admin/centres/new")
        form = (await http.get(answer.headers["location"])).text
        refused = await http.post("/admin/centres/new", data={
            "csrf_token": hidden(form, "csrf_token"), "name_lo": "ສຸກສາລາ ໄຊເສດຖາ",
            "district_lo": "ໄຊເສດຖາ", "opens": "16:00", "closes": "08:00",
            "days": ["mon"]})
        assert refused.status_code == 400
        assert 'role="alert"' in refused.text and "ສຸກສາລາ ໄຊເສດຖາ" in refused.text
        listing = (await http.get("/admin/centres")).text
        assert "ໄຊເສດຖາ" not in listing


async def test_an_admin_cancels_a_closed_days_appointments_from_the_page(
        app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    caller, patient_id = await patient_caller(store)
    tomorrow = datetime.combine(datetime.now(BANGKOK).date() + timedelta(days=1), time(0),
                                BANGKOK)
    slot = (await free_times(store, made.service.id, tomorrow, tomorrow + timedelta(
        days=1)))[0]
    booked = await book(store, caller, patient_id, slot.slot_id)
    await close_day(store, made.admin, made.centre.id, tomorrow.date(), "Songkran", BANGKOK)
    admin = f"admin-{uuid.uuid4().hex[:6]}"
    await add_account(store, admin, PASSWORD, Role.CENTRE_ADMIN,
                      organizations=(made.centre.id,))
    centre_url = f"/admin/centres/{made.centre.id}"
    async with browser(app) as http:
        await sign_in_staff(http, admin, PASSWORD, centre_url)
        page = (await http.get(centre_url)).text
        assert "1 appointment is still booked on this day" in page
        cancelled = await http.post(centre_url, data={
            "csrf_token": hidden(page, "csrf_token"), "action": "cancel-closed",
            "day": tomorrow.date().isoformat()})
        assert cancelled.status_code == 303, cancelled.text
        page = (await http.get(cancelled.headers["location"])).text
        assert "still booked" not in page and "Cancel them" not in page
    async with store.reading(EVERYTHING) as tx:
        appointment = (await tx.read("Appointment", booked.appointment_id)).resource()
    assert appointment["status"] == "cancelled"
    assert appointment["cancelationReason"]["text"] == "Songkran"


async def test_an_admin_adds_staff_who_then_sign_in_and_work_there(app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    admin = f"admin-{uuid.uuid4().hex[:6]}"
    await add_account(store, admin, PASSWORD, Role.CENTRE_ADMIN,
                      organizations=(made.centre.id,))
    centre_url = f"/admin/centres/{made.centre.id}"
    doctor = f"doctor.{uuid.uuid4().hex[:6]}"
    async with browser(app) as http, browser(app) as new_doctor:
        await sign_in_staff(http, admin, PASSWORD, centre_url)
        page = (await http.get(centre_url)).text
        form = {"csrf_token": hidden(page, "csrf_token"), "action": "add-staff",
                "name": "Dr Ananda Suksawat", "username": doctor, "role": "doctor",
                "password": "a first password"}
        added = await http.post(centre_url, data=form)
        assert added.status_code == 303
        page = (await http.get(centre_url)).text
        assert "Dr Ananda Suksawat · Doctor" in page
        # On the roster's list of clinicians at once.
        roster = page.partition('name="clinician"')[2].partition("</select>")[0]
        assert "Dr Ananda Suksawat" in roster

        for mistake, message in (
                ({"username": doctor}, "That sign-in name is taken"),
                ({"username": "Dr Ananda!"}, "A sign-in name has 3 to 40 small letters"),
                ({"username": "nurse.new", "role": "surgeon"}, "a doctor, a nurse or a"),
                ({"username": "nurse.new", "password": "short"},
                 "A password needs at least 10 characters"),
                ({"username": "nurse.new", "name": " "}, "Give the name")):
            refused = await http.post(centre_url, data={**form, **mistake})
            assert refused.status_code == 400 and message in refused.text, message
        assert "nurse.new" not in (await http.get(centre_url)).text

        await sign_in_staff(new_doctor, doctor, "a first password", "/staff/today")
        today = await new_doctor.get("/staff/today")
        assert today.status_code == 200 and made.centre.name("en") in today.text
