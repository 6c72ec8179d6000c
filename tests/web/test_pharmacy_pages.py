"""After the doctor signs: the pharmacist's queue, check, dispensing and delivery pages,
and what the patient reads of the visit and of their medicines' way home, through
HTTP as the browsers use them; the documents as PDFs."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.prescribing.formulary import Formulary, seed
from mor.services.scheduling.lookup import find
from mor.services.video.consults import admit, walk_in
from tests.auth.people import PASSWORD
from tests.records.patient_record import make_record
from tests.video.conftest import Centre, centre_with_staff, clinician_at
from tests.web.browser import browser, hidden, sign_in, sign_in_staff
from tests.web.test_video_pages import patient_of
from tests.web.test_visit_pages import NOTE


async def signed_visit(app: Starlette, centre: Centre) -> tuple[str, str]:
    """A patient (allergic to penicillin) seen by the doctor, who prescribes amoxicillin
    all the same and signs: the patient's username and the encounter."""
    store: Store = app.state.store
    await seed(store)
    username, patient_id = await patient_of(store, centre.made, "Somsri")
    await make_record(store, None, patient_id=patient_id)
    account = await Accounts(store.engine).find(username)
    assert account is not None
    consult = await walk_in(store, await person_caller(store, account), patient_id,
                            centre.id)
    await admit(store, centre.doctor.caller, consult.encounter_id)
    async with browser(app) as doctor:
        await sign_in_staff(doctor, centre.made.doctor_username, PASSWORD, "/staff/video")
        csrf = hidden((await doctor.get(f"/visits/{consult.encounter_id}")).text,
                      "csrf_token")
        signed = await doctor.post(f"/visits/{consult.encounter_id}/sign", data={
            **NOTE, "rx-0-acknowledged": "1", "referral-hospital": "",
            "csrf_token": csrf})
        assert signed.status_code == 303, signed.text
    return username, consult.encounter_id


def pdf_text(data: bytes) -> str:
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", "", text)


async def test_the_pharmacist_checks_dispenses_and_the_patient_follows_the_delivery(
        app: Starlette) -> None:
    store: Store = app.state.store
    centre = await centre_with_staff(store)
    pharmacist = await clinician_at(store, centre.id, Role.PHARMACIST, "Pharmacist Nok")
    assert pharmacist.caller.account is not None
    username, encounter_id = await signed_visit(app, centre)
    amoxicillin = Formulary().get("amoxicillin-500-cap")
    assert amoxicillin is not None

    async with browser(app) as patient:
        await sign_in(patient, username, PASSWORD)
        visits = (await patient.get("/my/visits")).text
        assert f"/my/visits/{encounter_id}" in visits
        summary = (await patient.get(f"/my/visits/{encounter_id}")).text
        for shown in ("Acute pharyngitis, unspecified", "Drink warm water",
                      "Amoxicillin 500 mg", "Waiting for the pharmacist to check"):
            assert shown in summary, shown
        thai = (await patient.get(f"/my/visits/{encounter_id}", params={"lang": "th"})).text
        assert amoxicillin.names.th in thai
        assert f'data-live="/my/visits/{encounter_id}/changes"' in summary
        before = (await patient.get(f"/my/visits/{encounter_id}/changes")).json()["token"]
        [document] = re.findall(r'href="(/documents/[\w-]+)"', summary)
        prescription = await patient.get(document)
        assert prescription.headers["content-type"] == "application/pdf"
        assert "Amoxicillin" in pdf_text(prescription.content)

    async with browser(app) as nok:
        await sign_in_staff(nok, pharmacist.caller.account.username, PASSWORD, "/pharmacy")
        queue = (await nok.get("/pharmacy")).text
        assert "Somsri Walkin" in queue and "Amoxicillin 500 mg" in queue
        assert "Warnings the prescriber saw and overrode" in queue
        assert "enicillin" in queue
        [task] = re.findall(r'/pharmacy/prescriptions/([\w-]+)/accept', queue)
        form = {"csrf_token": hidden(queue, "csrf_token"), "centre": centre.id}

        too_early = await nok.post(f"/pharmacy/prescriptions/{task}/dispense",
                                   data={**form, "method": "rider"})
        assert too_early.status_code == 409
        assert "Check and accept the prescription before dispensing it" in too_early.text

        accepted = await nok.post(f"/pharmacy/prescriptions/{task}/accept", data=form)
        assert accepted.status_code == 303
        queue = (await nok.get("/pharmacy")).text
        [label] = re.findall(r'href="(/pharmacy/labels/[\w-]+)"', queue)
        printed = await nok.get(label)
        assert printed.headers["content-type"] == "application/pdf"
        assert "Amoxicillin" in pdf_text(printed.content)

        dispensed = await nok.post(f"/pharmacy/prescriptions/{task}/dispense",
                                   data={**form, "method": "rider", "tracking": "RD-42"})
        assert dispensed.status_code == 303
        queue = (await nok.get("/pharmacy")).text
        [delivery] = re.findall(r'/pharmacy/deliveries/([\w-]+)/advance', queue)
        assert "Mark as: on the way" in queue
        moved = await nok.post(f"/pharmacy/deliveries/{delivery}/advance",
                               data={**form, "to": "on-the-way"})
        assert moved.status_code == 303
        wrong = await nok.post(f"/pharmacy/deliveries/{delivery}/advance",
                               data={**form, "to": "picked-up"})
        assert wrong.status_code == 409

    async with browser(app) as patient:
        await sign_in(patient, username, PASSWORD)
        changes = await patient.get(f"/my/visits/{encounter_id}/changes")
        assert changes.json()["token"] != before  # the page reloads its delivery part
        assert "Somsri" not in changes.text
        summary = (await patient.get(f"/my/visits/{encounter_id}")).text
        status = summary.partition('id="delivery-status"')[2].partition("</p>")[0]
        assert "on the way" in status and "by rider" in status and "RD-42" in status
        story = summary.partition('class="delivery-story"')[2].partition("</ol>")[0]
        assert [step in story for step in ("checked by the pharmacist", "packed",
                                           "on the way")] == [True, True, True]


async def test_others_cannot_use_the_pharmacy_or_read_the_visit(app: Starlette) -> None:
    store: Store = app.state.store
    centre = await centre_with_staff(store)
    _, encounter_id = await signed_visit(app, centre)
    nurse = await clinician_at(store, centre.id, Role.NURSE, "Nurse Fon")
    assert nurse.caller.account is not None
    elsewhere = await centre_with_staff(store)
    other_pharmacist = await clinician_at(store, elsewhere.id, Role.PHARMACIST, "Ph Other")
    assert other_pharmacist.caller.account is not None
    async with browser(app) as clinician, browser(app) as stranger, \
            browser(app) as other:
        await sign_in_staff(clinician, nurse.caller.account.username, PASSWORD, "/pharmacy")
        refused = await clinician.get("/pharmacy")
        assert refused.status_code == 403 and "for pharmacists" in refused.text

        await sign_in_staff(other, other_pharmacist.caller.account.username, PASSWORD,
                            "/pharmacy")
        assert "Somsri Walkin" not in (await other.get("/pharmacy")).text

        stranger_name, _ = await patient_of(store, centre.made, "Stranger")
        await sign_in(stranger, stranger_name, PASSWORD)
        page = await stranger.get(f"/my/visits/{encounter_id}")
        assert page.status_code == 404 and "Somsri" not in page.text
        assert (await stranger.get(f"/my/visits/{encounter_id}/changes")).status_code == 404
        async with store.reading(EVERYTHING) as tx:
            [document] = await find(tx, "DocumentReference",
                                    [("encounter", f"Encounter/{encounter_id}")])
        assert (await stranger.get(f"/documents/{document['id']}")).status_code == 404
        assert (await stranger.get("/pharmacy")).status_code == 403


async def test_a_question_to_the_prescriber_comes_back_answered(app: Starlette) -> None:
    store: Store = app.state.store
    await seed(store)
    centre = await centre_with_staff(store)
    pharmacist = await clinician_at(store, centre.id, Role.PHARMACIST, "Pharmacist Nok")
    assert pharmacist.caller.account is not None
    username, patient_id = await patient_of(store, centre.made, "Somsri")
    await make_record(store, None, patient_id=patient_id)
    account = await Accounts(store.engine).find(username)
    assert account is not None
    consult = await walk_in(store, await person_caller(store, account), patient_id,
                            centre.id)
    await admit(store, centre.doctor.caller, consult.encounter_id)
    visit = f"/visits/{consult.encounter_id}"
    async with browser(app) as doctor, browser(app) as nok:
        await sign_in_staff(doctor, centre.made.doctor_username, PASSWORD, "/staff/today")
        csrf = hidden((await doctor.get(visit)).text, "csrf_token")
        signed = await doctor.post(f"{visit}/sign", data={
            **NOTE, "rx-0-acknowledged": "1", "csrf_token": csrf})
        assert signed.status_code == 303

        await sign_in_staff(nok, pharmacist.caller.account.username, PASSWORD, "/pharmacy")
        queue = (await nok.get("/pharmacy")).text
        [task] = re.findall(r'/pharmacy/prescriptions/([\w-]+)/accept', queue)
        form = {"csrf_token": hidden(queue, "csrf_token"), "centre": centre.id}
        asked = await nok.post(f"/pharmacy/prescriptions/{task}/query", data={
            **form, "question": "Amoxicillin with a penicillin allergy: which instead?"})
        assert asked.status_code == 303

        today = (await doctor.get("/staff/today")).text
        assert "The pharmacy asks about your prescriptions" in today
        assert f'href="{visit}"' in today
        page = (await doctor.get(visit)).text
        assert "Amoxicillin with a penicillin allergy: which instead?" in page
        answered = await doctor.post(f"{visit}/answer", data={
            "csrf_token": hidden(page, "csrf_token"), "task": task,
            "answer": "Give azithromycin; I will sign a new prescription."})
        assert answered.status_code == 303
        assert "The pharmacy asks" not in (await doctor.get("/staff/today")).text

        queue = (await nok.get("/pharmacy")).text
        checking = queue.partition('id="to-check"')[2].partition("</section>")[0]
        assert "which instead?" in checking and "Give azithromycin" in checking

        # Only the prescriber answers, and only a question.
        again = await doctor.post(f"{visit}/answer", data={
            "csrf_token": hidden(page, "csrf_token"), "task": task, "answer": "Again"})
        assert again.status_code == 409 and "not waiting for your answer" in again.text
