"""The video consultation's pages through HTTP, as the browsers use them: a patient joins
the centre's walk-in video queue, the doctor sees them waiting and admits them, both
chat, and the doctor reads the patient's record beside the call; and what others are
refused. The call itself runs in Chromium (tests/e2e)."""

from __future__ import annotations

import re
import uuid

import httpx
from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.staff import add_account
from mor.services.video import consults
from tests.auth.people import PASSWORD
from tests.records.patient_record import make_record
from tests.scheduling.centre import MadeCentre, make_centre
from tests.web.browser import browser, hidden, sign_in, sign_in_staff


async def registered_patient(store: Store, made: MadeCentre, given: str) -> str:
    """A patient registered with the centre (as after their first booking); their
    username."""
    username, _ = await patient_of(store, made, given)
    return username


async def patient_of(store: Store, made: MadeCentre, given: str) -> tuple[str, str]:
    """As registered_patient: the username and the id of their Patient."""
    async with store.writing(EVERYTHING) as tx:
        patient = await tx.create({
            "resourceType": "Patient", "name": [{"given": [given], "family": "Walkin"}],
            "managingOrganization": {"reference": f"Organization/{made.centre.id}"}})
    username = f"{given.lower()}-{uuid.uuid4().hex[:6]}"
    await Accounts(store.engine).add(username, PASSWORD, Role.PATIENT,
                                     fhir_user=patient.reference, verified=True)
    return username, patient.id


async def walk_in(http: httpx.AsyncClient) -> str:
    """Joins the video queue from the appointments page; the consult's page address."""
    page = (await http.get("/appointments")).text
    assert "Join the video queue" in page
    joined = await http.post("/video/walk-in", data={
        "centre": hidden(page, "centre"), "csrf_token": hidden(page, "csrf_token")})
    assert joined.status_code == 303, joined.text
    location: str = joined.headers["location"]
    assert re.fullmatch(r"/video/[\w-]+", location)
    return location


async def test_a_walk_in_waits_is_admitted_and_chats_with_the_doctor(app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    username = await registered_patient(store, made, "Noy")
    async with browser(app) as patient, browser(app) as doctor:
        await sign_in(patient, username, PASSWORD)
        consult = await walk_in(patient)
        waiting = (await patient.get(consult)).text
        assert "Waiting room" in waiting and "Check your phone" in waiting
        state = (await patient.get(f"{consult}/state")).json()
        assert state["status"] == "arrived" and state["place"] == 1

        await sign_in_staff(doctor, made.doctor_username, PASSWORD, "/staff/video")
        listed = (await doctor.get("/staff/video")).text
        assert "Noy Walkin" in listed and "Walk-in, no booking" in listed
        changes = await doctor.get("/staff/video/changes",
                                   params={"centre": made.centre.id})
        assert changes.headers["cache-control"] == "no-store"
        assert "Noy" not in changes.text  # a token, with nobody's name in it
        admitted = await doctor.post(f"{consult}/admit",
                                     data={"csrf_token": hidden(listed, "csrf_token")})
        assert admitted.status_code == 303 and admitted.headers["location"] == consult
        assert (await patient.get(f"{consult}/state")).json()["status"] == "in-progress"
        call = (await doctor.get(consult)).text
        assert "Hang up and end the consultation" in call

        ice = await doctor.get(f"{consult}/ice")
        assert ice.headers["cache-control"] == "no-store"
        assert isinstance(ice.json()["iceServers"], list)

        refused = await patient.post(f"{consult}/messages", data={"text": "hello"})
        assert refused.status_code == 400 and refused.json()["error"]
        sent = await patient.post(f"{consult}/messages", data={
            "text": "My chest hurts when I climb stairs",
            "csrf_token": hidden(waiting, "csrf_token")})
        assert sent.status_code == 201
        read = (await doctor.get(f"{consult}/messages")).json()["messages"]
        assert [m["text"] for m in read] == ["My chest hurts when I climb stairs"]
        assert read[0]["sender"].startswith("Patient/")

        ended = await doctor.post(f"{consult}/end",
                                  data={"csrf_token": hidden(call, "csrf_token")})
        assert ended.status_code == 303
        assert (await patient.get(f"{consult}/state")).json()["status"] == "finished"


async def test_others_cannot_see_a_consult_or_its_chat(app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    owner = await registered_patient(store, made, "Dao")
    stranger = await registered_patient(store, made, "Kham")
    other_doctor = f"doctor-{uuid.uuid4().hex[:8]}"
    await add_account(store, other_doctor, PASSWORD, Role.DOCTOR, name="Dr Other",
                      organizations=((await make_centre(store)).centre.id,))
    pharmacist = f"pharmacist-{uuid.uuid4().hex[:8]}"
    await add_account(store, pharmacist, PASSWORD, Role.PHARMACIST, name="Pharmacist",
                      organizations=(made.centre.id,))
    async with browser(app) as patient:
        await sign_in(patient, owner, PASSWORD)
        consult = await walk_in(patient)
    async with browser(app) as other:
        await sign_in(other, stranger, PASSWORD)
        assert (await other.get(consult)).status_code == 403
        assert (await other.get(f"{consult}/messages")).status_code == 403
        assert (await other.get(f"{consult}/ice")).status_code == 403
    async with browser(app) as elsewhere:
        await sign_in_staff(elsewhere, other_doctor, PASSWORD, "/staff/video")
        assert "Dao" not in (await elsewhere.get("/staff/video")).text
        assert (await elsewhere.get(consult)).status_code == 403
    async with browser(app) as counter:
        await sign_in_staff(counter, pharmacist, PASSWORD, "/staff/video")
        assert (await counter.get("/staff/video")).status_code == 403
    async with browser(app) as anonymous:
        answer = await anonymous.get(consult)
        assert answer.status_code == 303 and "/auth/login" in answer.headers["location"]


async def test_the_doctor_reads_the_patients_record_beside_the_call(app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    username, patient_id = await patient_of(store, made, "Somsri")
    await make_record(store, made.centre.id, patient_id=patient_id)
    async with browser(app) as patient, browser(app) as doctor:
        await sign_in(patient, username, PASSWORD)
        consult = await walk_in(patient)
        await sign_in_staff(doctor, made.doctor_username, PASSWORD, "/staff/video")
        listed = (await doctor.get("/staff/video")).text
        await doctor.post(f"{consult}/admit", data={"csrf_token": hidden(listed,
                                                                          "csrf_token")})
        call = (await doctor.get(consult)).text
        assert 'id="record"' in call and "Patient record" in call
        for shown in ("Somsri Walkin", "Essential (primary) hypertension",
                      "(I10)", "Amlodipine 5 mg tablet", "1 tablet once a day",
                      "Paracetamol 500 mg", "Penicillin", "High risk", "Hives",
                      "132/84 mmHg", "72 /min", "36.6 °C", "61.5 kg", "97 %",
                      "1 Mar 2025", "Fever and cough", "Bang Rak Health Centre"):
            assert shown in call, shown
        # Beside the latest values, their course: the earlier blood pressure too, never
        # a measurement entered in error.
        trends = call.partition('id="vital-trends"')[2].partition("</section>")[0]
        assert "<svg" in trends and "Blood pressure" in trends and "150/95" in trends
        assert "39.9" not in trends
        # (The note's form beside it lists the whole formulary, Enalapril included.)
        record = call.partition('id="record"')[2].partition('id="vital-trends"')[0]
        for left_out in ("Acute upper respiratory infection", "Gastritis", "Enalapril",
                         "Egg", "150/95", "39.9", "Someone else"):
            assert left_out not in record, left_out

        thai = (await doctor.get(consult, params={"lang": "th"})).text
        for shown in ("ประวัติสุขภาพของผู้ป่วย", "ความดันโลหิต", "1 มี.ค. 2568",
                      "Essential (primary) hypertension"):
            assert shown in thai, shown
        assert "Patient record" not in thai

        waiting = (await patient.get(consult)).text
        assert 'id="record"' not in waiting and "Penicillin" not in waiting


async def test_a_record_not_shared_with_the_doctor_says_so(app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    elsewhere = await make_centre(store)
    username, patient_id = await patient_of(store, elsewhere, "Kham")
    await make_record(store, elsewhere.centre.id, patient_id=patient_id)
    account = await Accounts(store.engine).find(username)
    assert account is not None
    # At a centre of which they are no patient, and which they have not shared with.
    consult = await consults.walk_in(store, await person_caller(store, account), patient_id,
                                     made.centre.id)
    async with browser(app) as doctor:
        await sign_in_staff(doctor, made.doctor_username, PASSWORD, "/staff/video")
        listed = (await doctor.get("/staff/video")).text
        await doctor.post(f"/video/{consult.encounter_id}/admit",
                          data={"csrf_token": hidden(listed, "csrf_token")})
        call = await doctor.get(f"/video/{consult.encounter_id}")
        assert call.status_code == 200
        assert "This patient&#39;s record is not shared with you" in call.text
        assert "Penicillin" not in call.text and "Hang up" in call.text
