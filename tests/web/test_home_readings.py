"""The patient's home readings through HTTP, as their browser uses it: enrolling, what is
due today, a reading sent by the page's script (twice: stored once), a reading a home
device cannot give (refused, saying why), a meter's export uploaded (twice: nothing
added the second time), the charts against the targets, the forms without JavaScript,
and what is refused to others."""

from __future__ import annotations

import html
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette

from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.actions import message_patient
from mor.services.monitoring.alerts import ALERT_CODE
from mor.services.scheduling.lookup import find
from mor.web.home_readings import CSRF_HEADER, ENROL_PATH, READINGS_PATH, UPLOAD_PATH
from tests.auth.people import PASSWORD
from tests.scheduling.centre import BANGKOK, make_centre
from tests.video.conftest import clinician_at
from tests.web.browser import browser, hidden, sign_in, sign_in_staff
from tests.web.test_video_pages import patient_of


def _section(page: str, section: str) -> str:
    return page.partition(f'id="{section}"')[2].partition("</section>")[0]


def _key() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _now(hours_ago: float = 0) -> str:
    return (datetime.now(BANGKOK) - timedelta(hours=hours_ago)).isoformat(
        timespec="seconds")


async def _observations(store: Store, patient_id: str) -> list[dict[str, Any]]:
    async with store.reading(EVERYTHING) as tx:
        return await find(tx, "Observation", [("patient", f"Patient/{patient_id}")])


async def _enrolled(app: Starlette, http: httpx.AsyncClient, *programmes: str
                    ) -> tuple[str, str]:
    """A signed-in patient of a health centre, enrolled from the page; their Patient's
    id and the page's form token."""
    store = app.state.store
    made = await make_centre(store)
    username, patient_id = await patient_of(store, made, "Somsak")
    await sign_in(http, username, PASSWORD)
    page = (await http.get(READINGS_PATH)).text
    answer = await http.post(ENROL_PATH, data={
        "csrf_token": hidden(page, "csrf_token"), "programme": list(programmes)})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == READINGS_PATH
    return patient_id, hidden(page, "csrf_token")


async def _send(http: httpx.AsyncClient, csrf: str, **reading: Any) -> httpx.Response:
    return await http.post(READINGS_PATH, json=reading, headers={CSRF_HEADER: csrf})


async def test_a_patient_enrols_and_sees_what_is_due_with_a_form_for_each(
        app: Starlette) -> None:
    async with browser(app) as http:
        store = app.state.store
        made = await make_centre(store)
        username, _ = await patient_of(store, made, "Somsak")
        await sign_in(http, username, PASSWORD)
        page = (await http.get(READINGS_PATH)).text
        assert "Start home monitoring" in page and 'value="hypertension"' in page
        assert "Due today" not in page

        nothing = await http.post(ENROL_PATH, data={"csrf_token": hidden(page, "csrf_token")})
        assert nothing.status_code == 400
        assert "Choose what the plan follows" in nothing.text

        await http.post(ENROL_PATH, data={"csrf_token": hidden(page, "csrf_token"),
                                          "programme": ["hypertension", "diabetes"]})
        page = (await http.get(READINGS_PATH)).text
        due = _section(page, "due")
        assert [kind in due for kind in ("Blood pressure", "Blood sugar", "Weight")] == [
            True, True, True]
        forms = _section(page, "enter")
        for field in ("systolic", "diastolic", "pulse", "glucose", "weight"):
            assert f'name="{field}"' in forms, field
        assert "mmHg" in forms and "mg/dL" in forms and "kg" in forms
        for context in ("Fasting", "After a meal", "Any time"):
            assert context in forms
        assert forms.count('name="key" value="urn:uuid:') == 3  # one per form
        assert 'src="/static/readings.js"' in page
        assert 'data-queued-text="Saved on this phone; it will be sent when you are online."' \
            in page

        again = await http.post(ENROL_PATH, data={"csrf_token": hidden(page, "csrf_token"),
                                                  "programme": "diabetes"})
        assert again.status_code == 400 and "already follows" in again.text


async def test_a_reading_sent_twice_is_stored_once_and_leaves_the_due_list(
        app: Starlette) -> None:
    async with browser(app) as http:
        patient_id, csrf = await _enrolled(app, http, "hypertension")
        key = _key()
        reading = {"key": key, "kind": "bp", "taken": _now(), "systolic": 132,
                   "diastolic": 84, "pulse": 72}
        first = await _send(http, csrf, **reading)
        assert first.status_code == 201, first.text
        assert first.json()["new"] is True
        second = await _send(http, csrf, **reading)  # the answer was lost; sent again
        assert second.status_code == 200
        assert second.json() == {"id": first.json()["id"], "new": False}
        stored = await _observations(app.state.store, patient_id)
        assert len(stored) == 1
        assert stored[0]["identifier"][0]["value"] == key

        page = (await http.get(READINGS_PATH)).text
        due = _section(page, "due")
        assert "Blood pressure" not in due and "Weight" in due
        assert "132/84 mmHg, pulse 72/min" in _section(page, "recent")


async def test_a_reading_no_home_device_gives_is_refused_saying_why(
        app: Starlette) -> None:
    async with browser(app) as http:
        patient_id, csrf = await _enrolled(app, http, "hypertension")
        wrong = await _send(http, csrf, key=_key(), kind="bp", taken=_now(),
                            systolic=1320, diastolic=84)
        assert wrong.status_code == 400
        assert wrong.json()["error"] == ("1320 is not a reading a home device gives; check "
                                         "the number (between 50 and 300)")
        swapped = await _send(http, csrf, key=_key(), kind="bp", taken=_now(),
                              systolic=80, diastolic=120)
        assert swapped.status_code == 400 and "check the order" in swapped.json()["error"]
        future = await _send(http, csrf, key=_key(), kind="weight", weight=70,
                             taken=_now(hours_ago=-3))
        assert future.status_code == 400 and "phone's clock" in future.json()["error"]
        # Only keys the page makes: a meter line's, or anything else, is not one.
        foreign = await _send(http, csrf, key="urn:sha256:abc", kind="weight", weight=70,
                              taken=_now())
        assert foreign.status_code == 400
        no_token = await http.post(READINGS_PATH, json={
            "key": _key(), "kind": "weight", "weight": 70, "taken": _now()})
        assert no_token.status_code == 403
        assert await _observations(app.state.store, patient_id) == []


async def test_a_crisis_reading_raises_an_urgent_alert_for_the_centre(
        app: Starlette) -> None:
    async with browser(app) as http:
        patient_id, csrf = await _enrolled(app, http, "hypertension")
        answer = await _send(http, csrf, key=_key(), kind="bp", taken=_now(),
                             systolic=185, diastolic=115)
        assert answer.status_code == 201
        async with app.state.store.reading(EVERYTHING) as tx:
            tasks = await find(tx, "Task", [("code", ALERT_CODE),
                                            ("patient", f"Patient/{patient_id}")])
        assert [t["priority"] for t in tasks] == ["urgent"]

        # The nurse's message about it is on the patient's page.
        centre_id = str(tasks[0]["owner"]["reference"]).removeprefix("Organization/")
        nurse = await clinician_at(app.state.store, centre_id, Role.NURSE, "Nurse Ploy")
        await message_patient(app.state.store, nurse.caller, centre_id, patient_id,
                              "Rest and measure again in 5 minutes, please",
                              now=datetime.now(BANGKOK), task_id=tasks[0]["id"])
        page = (await http.get(READINGS_PATH)).text
        assert "Rest and measure again in 5 minutes, please" in _section(page, "messages")


async def test_the_chart_draws_the_target_and_marks_readings_off_it(
        app: Starlette) -> None:
    async with browser(app) as http:
        _, csrf = await _enrolled(app, http, "diabetes")
        for hours, systolic, diastolic in ((50, 128, 82), (26, 150, 95), (2, 135, 85)):
            await _send(http, csrf, key=_key(), kind="bp", taken=_now(hours),
                        systolic=systolic, diastolic=diastolic)
        await _send(http, csrf, key=_key(), kind="glucose", taken=_now(3), glucose=110,
                    context="fasting")
        await _send(http, csrf, key=_key(), kind="glucose", taken=_now(1), glucose=160,
                    context="fasting")
        page = (await http.get(READINGS_PATH)).text
        charts = _section(page, "charts")
        assert charts.count("<svg") == 2  # weight: no reading yet
        assert "No readings in the last 30 days." in charts
        bp = charts.partition('id="chart-bp-title"')[2].partition("</figure>")[0]
        assert "Target: below 140/90" in bp
        # 150/95 is off target: its two points are diamonds, and so is the legend's mark.
        assert bp.count("<path") == 3 and bp.count("<circle") == 4
        rows = bp.partition("<tbody>")[2]
        assert rows.index("135/85 mmHg") < rows.index("150/95 mmHg") < rows.index(
            "128/82 mmHg")  # newest first
        assert rows.count("Above target") == 1 and rows.count("On target") == 2
        glucose = charts.partition('id="chart-glucose-title"')[2].partition("</figure>")[0]
        assert "Fasting target: 80 to 130" in glucose and "<rect" in glucose
        assert "160 mg/dL, fasting" in glucose and glucose.count("Above target") == 1


OMRON = b"""Date,Time,Systolic (mmHg),Diastolic (mmHg),Pulse (bpm),Irregular heartbeat
{d1},07:15,132,84,72,
{d1},19:30,138,86,75,
{d2},07:10,abc,80,70,
{d2},07:20,129,81,70,
"""


async def test_a_meter_export_uploaded_twice_adds_its_readings_once(
        app: Starlette) -> None:
    async with browser(app) as http:
        patient_id, csrf = await _enrolled(app, http, "hypertension")
        yesterday = datetime.now(BANGKOK).date() - timedelta(days=1)
        before = yesterday - timedelta(days=1)
        data = OMRON.replace(b"{d1}", before.strftime("%d/%m/%Y").encode()).replace(
            b"{d2}", yesterday.isoformat().encode())

        async def upload() -> str:
            answer = await http.post(UPLOAD_PATH, data={"csrf_token": csrf},
                                     files={"file": ("omron.csv", data, "text/csv")})
            assert answer.status_code == 200, answer.text
            return _section(answer.text, "upload")

        first = await upload()
        assert "3 readings added" in first and "0 already there" in first
        assert "1 line not understood" in first and "line 4: abc is not a number" in first
        second = await upload()
        assert "0 readings added" in second and "3 already there" in second
        assert len(await _observations(app.state.store, patient_id)) == 3

        page = (await http.get(READINGS_PATH)).text
        assert "129/81 mmHg, pulse 70/min" in _section(page, "recent")
        assert "(omron.csv)" in _section(page, "recent")

        not_a_meter = await http.post(UPLOAD_PATH, data={"csrf_token": csrf}, files={
            "file": ("notes.csv", b"name,address\nSomsak,Bangkok\n", "text/csv")})
        assert not_a_meter.status_code == 400
        assert "not a blood pressure or blood sugar export" in not_a_meter.text
        too_big = await http.post(UPLOAD_PATH, data={"csrf_token": csrf}, files={
            "file": ("big.csv", b"x" * (2 * 1024 * 1024), "text/csv")})
        assert too_big.status_code == 413
        assert "bigger than a meter's export (1 MB at most)" in html.unescape(too_big.text)


async def test_the_forms_work_without_javascript_and_a_double_post_stores_once(
        app: Starlette) -> None:
    async with browser(app) as http:
        patient_id, _ = await _enrolled(app, http, "hypertension")
        page = (await http.get(READINGS_PATH)).text
        form = page.partition('data-reading="weight"')[2].partition("</form>")[0]
        fields = {"csrf_token": hidden(form, "csrf_token"), "kind": "weight",
                  "key": hidden(form, "key"), "weight": "68,5"}
        for _ in range(2):  # the patient taps twice
            answer = await http.post(READINGS_PATH, data=fields)
            assert answer.status_code == 303
            assert answer.headers["location"] == f"{READINGS_PATH}?saved=weight"
        stored = await _observations(app.state.store, patient_id)
        assert [o["valueQuantity"]["value"] for o in stored] == [68.5]
        shown = (await http.get(answer.headers["location"])).text
        assert "Your reading is saved" in shown and "68.5 kg" in shown

        bad = await http.post(READINGS_PATH, data={**fields, "key": _key(), "weight": "0"})
        assert bad.status_code == 400 and "not a reading a home device gives" in bad.text


async def test_the_page_in_thai_keeps_the_numbers_and_the_buddhist_era(
        app: Starlette) -> None:
    async with browser(app) as http:
        _, csrf = await _enrolled(app, http, "hypertension")
        await _send(http, csrf, key=_key(), kind="bp", taken=_now(1), systolic=132,
                    diastolic=84)
        page = (await http.get(READINGS_PATH, params={"lang": "th"})).text
        assert '<html lang="th">' in page
        year = datetime.now(BANGKOK).year
        recent = _section(page, "recent")
        assert "132/84 mmHg" in recent and str(year + 543) in recent
        assert _section(page, "charts").count("<svg") == 1
        ce = (await http.get(READINGS_PATH, params={"era": "ce"})).text
        assert str(year) in _section(ce, "recent")


async def test_staff_and_strangers_are_refused(app: Starlette) -> None:
    store = app.state.store
    async with browser(app) as http, browser(app) as other:
        patient_id, _ = await _enrolled(app, http, "hypertension")
        made = await make_centre(store)
        username, _ = await patient_of(store, made, "Noy")
        await sign_in(other, username, PASSWORD)
        page = await other.get(READINGS_PATH, params={"patient": patient_id})
        assert page.status_code == 403
        other_csrf = hidden((await other.get(READINGS_PATH)).text, "csrf_token")
        sent = await other.post(f"{READINGS_PATH}?patient={patient_id}", json={
            "key": _key(), "kind": "weight", "weight": 70, "taken": _now()},
            headers={CSRF_HEADER: other_csrf})
        assert sent.status_code == 403
        assert await _observations(store, patient_id) == []
    async with browser(app) as nobody:
        answer = await nobody.get(READINGS_PATH)
        assert answer.status_code == 303 and answer.headers["location"].startswith(
            "/auth/login")
        json_answer = await nobody.post(READINGS_PATH, json={"key": _key()})
        assert json_answer.status_code == 401
        assert "Sign in again" in json_answer.json()["error"]
    async with browser(app) as doctor:
        await sign_in_staff(doctor, made.doctor_username, PASSWORD, READINGS_PATH)
        staff_page = await doctor.get(READINGS_PATH)
        assert staff_page.status_code == 403
        assert "This page is for patients" in staff_page.text
