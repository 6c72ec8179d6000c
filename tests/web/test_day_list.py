"""The day at a health centre: the clinician's list of today's appointments, marked as
patients arrive and are seen; the administrator's figures, with no names in them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time

from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.auth.roles import Role
from mor.fhir.visibility import EVERYTHING
from mor.services.staff import add_account
from tests.auth.people import PASSWORD
from tests.conftest import empty_database
from tests.scheduling.centre import BANGKOK, MadeCentre, make_centre, patient_caller
from tests.web.browser import browser, hidden, sign_in, sign_in_staff


async def today_appointment(app: Starlette, made: MadeCentre, at: time, name: str,
                            status: str = "booked") -> str:
    """An appointment at the centre today (made directly: today's slots may be past)."""
    store = app.state.store
    _, patient_id = await patient_caller(store)
    start = datetime.combine(datetime.now(BANGKOK).date(), at, BANGKOK)
    async with store.writing(EVERYTHING) as tx:
        current = await tx.read("Patient", patient_id)
        await tx.update("Patient", patient_id, {**current.resource(), "name": [
            {"text": name}]})
        stored = await tx.create({
            "resourceType": "Appointment", "status": status,
            "start": start.isoformat(), "end": start.replace(minute=15).isoformat(),
            "serviceType": [{"coding": [{"system": "https://mor.health/fhir/CodeSystem/"
                                                   "health-centre-service",
                                         "code": "general-practice"}]}],
            "participant": [
                {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"},
                {"actor": {"reference": f"Location/{made.centre.location_id}"},
                 "status": "accepted"}]})
    return stored.id


async def test_a_doctor_sees_today_and_marks_who_arrived_and_was_seen(
        app: Starlette) -> None:
    await empty_database(app)
    made = await make_centre(app.state.store)
    first = await today_appointment(app, made, time(8), "Somsri Rakdee")
    await today_appointment(app, made, time(9), "Anan Jaidee")
    await today_appointment(app, made, time(10), "Cancelled Person", status="cancelled")
    async with browser(app) as http:
        answer = await sign_in_staff(http, made.doctor_username, PASSWORD, "/staff/today")
        page = (await http.get(answer.headers["location"])).text
        assert page.index("Somsri Rakdee") < page.index("Anan Jaidee")
        assert "Cancelled Person" not in page
        assert re.search(r"Cancelled: <strong>1</strong>", page)
        token = (await http.get("/staff/today/changes")).json()["token"]

        marked = await http.post(f"/staff/today/{first}", data={
            "status": "arrived", "csrf_token": hidden(page, "csrf_token")})
        assert marked.status_code == 303
        assert (await http.get("/staff/today/changes")).json()["token"] != token
        page = (await http.get(marked.headers["location"])).text
        assert re.search(r"Somsri Rakdee</h3>\s*<p>[^<]*<strong>Arrived", page)
        await http.post(f"/staff/today/{first}", data={
            "status": "fulfilled", "csrf_token": hidden(page, "csrf_token")})
        page = (await http.get("/staff/today")).text
        assert re.search(r"Attended: <strong>1</strong>", page)


async def test_the_centre_admin_sees_figures_and_no_names(app: Starlette) -> None:
    await empty_database(app)
    made = await make_centre(app.state.store)
    await today_appointment(app, made, time(8), "Somsri Rakdee")
    username = f"admin-{uuid.uuid4().hex[:6]}"
    await add_account(app.state.store, username, PASSWORD, Role.CENTRE_ADMIN,
                      organizations=(made.centre.id,))
    async with browser(app) as http:
        answer = await sign_in_staff(http, username, PASSWORD, "/staff/today")
        page = (await http.get(answer.headers["location"])).text
        assert "Booked: <strong>1</strong>" in page and "<svg" in page
        assert "Somsri" not in page


async def test_staff_of_another_centre_and_patients_are_turned_away(app: Starlette) -> None:
    await empty_database(app)
    made = await make_centre(app.state.store)
    other = await make_centre(app.state.store)
    await today_appointment(app, made, time(8), "Somsri Rakdee")
    async with browser(app) as http:
        answer = await sign_in_staff(http, other.doctor_username, PASSWORD, "/staff/today")
        page = (await http.get(answer.headers["location"] + f"?centre={made.centre.id}")).text
        assert "Somsri" not in page  # shown their own centre instead
    patient = f"patient-{uuid.uuid4().hex[:6]}"
    await Accounts(app.state.store.engine).add(patient, PASSWORD, Role.PATIENT)
    async with browser(app) as http:
        await sign_in(http, patient, PASSWORD)
        assert (await http.get("/staff/today")).status_code == 403
        assert (await http.get("/staff/today/changes")).status_code == 401
