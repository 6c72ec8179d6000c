"""A visit at the health centre, without video: the doctor opens it from today's list,
writes and signs its note as beside a call, and signing closes the visit and its
appointment."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from starlette.applications import Starlette

from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.prescribing.formulary import seed
from mor.services.scheduling.booking import book, free_times
from tests.auth.people import PASSWORD
from tests.records.patient_record import make_record
from tests.scheduling.centre import BANGKOK, patient_caller
from tests.video.conftest import Centre, centre_with_staff, clinician_at
from tests.web.browser import browser, hidden, sign_in_staff
from tests.web.test_visit_pages import NOTE


async def booked_now(store: Store, centre: Centre, *, video: bool = False
                     ) -> tuple[str, str]:
    """A patient with a record and an appointment at the centre starting now: their
    Patient id and the appointment's id."""
    caller, patient_id = await patient_caller(store)
    await make_record(store, None, patient_id=patient_id)
    now = datetime.now(BANGKOK)
    first = (await free_times(store, centre.made.service.id, now, now + timedelta(days=3),
                              limit=1))[0]
    booked = await book(store, caller, patient_id, first.slot_id, video=video)
    async with store.writing(EVERYTHING) as tx:
        stored = await tx.read("Appointment", booked.appointment_id)
        appointment = {k: v for k, v in stored.resource().items() if k != "meta"}
        appointment["start"] = now.isoformat(timespec="seconds")
        appointment["end"] = (now + timedelta(minutes=15)).isoformat(timespec="seconds")
        await tx.update("Appointment", booked.appointment_id, appointment)
    return patient_id, booked.appointment_id


async def read(store: Store, resource_type: str, resource_id: str) -> dict[str, object]:
    async with store.reading(EVERYTHING) as tx:
        return (await tx.read(resource_type, resource_id)).resource()


async def test_a_visit_at_the_centre_is_opened_from_the_day_list_and_closed_by_signing(
        app: Starlette) -> None:
    store: Store = app.state.store
    await seed(store)
    centre = await centre_with_staff(store)
    _, appointment_id = await booked_now(store, centre)
    nurse = await clinician_at(store, centre.id, Role.NURSE, "Nurse Fon")
    assert nurse.caller.account is not None
    async with browser(app) as doctor, browser(app) as fon:
        await sign_in_staff(doctor, centre.made.doctor_username, PASSWORD, "/staff/today")
        today = (await doctor.get("/staff/today")).text
        action = f"/staff/today/{appointment_id}/visit?centre={centre.id}"
        assert f'action="{action}"' in today and "Write the visit note" in today
        opened = await doctor.post(action, data={"csrf_token": hidden(today, "csrf_token")})
        assert opened.status_code == 303
        visit_path = opened.headers["location"]
        encounter_id = visit_path.rsplit("/", 1)[1]
        encounter = await read(store, "Encounter", encounter_id)
        assert encounter["class"] == {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB",
            "display": "ambulatory"}
        assert encounter["status"] == "in-progress"
        assert (await read(store, "Appointment", appointment_id))["status"] == "arrived"

        # The nurse opening it too joins the same visit.
        await sign_in_staff(fon, nurse.caller.account.username, PASSWORD, "/staff/today")
        page = (await fon.get("/staff/today")).text
        again = await fon.post(action, data={"csrf_token": hidden(page, "csrf_token")})
        assert again.headers["location"] == visit_path
        joined = await read(store, "Encounter", encounter_id)
        assert len(joined["participant"]) == 2  # type: ignore[arg-type]

        shown = await doctor.get(visit_path)
        note_page = shown.text
        assert shown.status_code == 200, note_page[note_page.find("<h1>"):][:300]
        assert 'id="visit-form"' in note_page, note_page[note_page.find("<main"):][:600]
        assert 'id="record"' in note_page
        signed = await doctor.post(f"{visit_path}/sign", data={
            **NOTE, "rx-0-acknowledged": "1", "csrf_token": hidden(note_page,
                                                                   "csrf_token")})
        assert signed.status_code == 303, signed.text
        closed = await read(store, "Encounter", encounter_id)
        assert closed["status"] == "finished"
        assert "end" in closed["period"]  # type: ignore[operator]
        assert (await read(store, "Appointment", appointment_id))["status"] == "fulfilled"
        after = (await doctor.get("/staff/today")).text
        assert re.search(r"Seen</strong>", after)


async def test_a_video_appointment_is_not_opened_as_a_visit_at_the_centre(
        app: Starlette) -> None:
    store: Store = app.state.store
    centre = await centre_with_staff(store)
    _, appointment_id = await booked_now(store, centre, video=True)
    async with browser(app) as doctor:
        await sign_in_staff(doctor, centre.made.doctor_username, PASSWORD, "/staff/today")
        page = (await doctor.get("/staff/today")).text
        assert f"/staff/today/{appointment_id}/visit" not in page  # no button for it
        refused = await doctor.post(
            f"/staff/today/{appointment_id}/visit?centre={centre.id}",
            data={"csrf_token": hidden(page, "csrf_token")})
        assert refused.status_code == 409
        assert "admit the patient from the video waiting list" in refused.text
