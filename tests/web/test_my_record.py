"""The patient's own record through HTTP, as their browser uses it: their problems,
medicines, allergies, vital signs with charts and immunisations in their language;
who accessed it and when (the doctor who read it, by name; an emergency access, loudly);
a family member acting for them; and what everyone else is refused."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette

from mor.auth.accounts import Account, Accounts
from mor.auth.break_glass import BreakGlass
from mor.auth.callers import person_caller
from mor.auth.roles import Role
from mor.fhir.permissions import UNRESTRICTED
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.fhir_calls import search
from mor.services.records.summary import record_summary
from mor.web.dates import clock, day_in_record
from mor.web.my_record import ACCESS_PATH, RECORD_PATH
from tests.auth.people import PASSWORD
from tests.records.patient_record import make_record
from tests.scheduling.centre import BANGKOK, MadeCentre, make_centre
from tests.web.browser import browser, sign_in, sign_in_staff
from tests.web.test_video_pages import patient_of

CVX = "http://hl7.org/fhir/sid/cvx"


async def _immunize(store: Store, patient_id: str, vaccine: str, code: str, when: str,
                    status: str = "completed") -> None:
    async with store.writing(EVERYTHING) as tx:
        await tx.create({"resourceType": "Immunization", "status": status,
                         "vaccineCode": {"coding": [{"system": CVX, "code": code,
                                                     "display": vaccine}]},
                         "patient": {"reference": f"Patient/{patient_id}"},
                         "occurrenceDateTime": when, "primarySource": True})


async def _account(store: Store, username: str) -> Account:
    account = await Accounts(store.engine).find(username)
    assert account is not None
    return account


async def _doctor_reads(store: Store, made: MadeCentre, patient_id: str) -> datetime:
    """The centre's doctor reads the record (as beside a call); when it was recorded."""
    doctor = await person_caller(store, await _account(store, made.doctor_username))
    await record_summary(store, doctor, patient_id, today=datetime.now(BANGKOK).date())
    assert doctor.account is not None
    return await _last_access(store, patient_id, doctor.account.fhir_user or "")


async def _last_access(store: Store, patient_id: str, agent: str) -> datetime:
    events = await search(store, UNRESTRICTED, "AuditEvent", [
        ("patient", f"Patient/{patient_id}"), ("agent", agent), ("_sort", "-date"),
        ("_count", "1")])
    return datetime.fromisoformat(events[0]["recorded"])


def _section(page: str, section: str) -> str:
    return page.partition(f'id="{section}"')[2].partition("</section>")[0]


async def test_a_patient_reads_their_whole_record_in_their_language(
        app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    username, patient_id = await patient_of(store, made, "Somsri")
    await make_record(store, made.centre.id, patient_id=patient_id)
    await _immunize(store, patient_id, "Influenza, seasonal, injectable", "141", "2025-10-01")
    await _immunize(store, patient_id, "Hepatitis B vaccine", "08", "1998")
    await _immunize(store, patient_id, "Rabies vaccine", "18", "2025-01-01",
                    status="entered-in-error")
    _, other_id = await patient_of(store, made, "Kham")
    await _immunize(store, other_id, "Yellow fever vaccine", "37", "2025-05-05")
    async with browser(app) as patient:
        await sign_in(patient, username, PASSWORD)
        answer = await patient.get(RECORD_PATH)
        assert answer.status_code == 200, answer.text
        page = answer.text
        for shown in ("My health record", "Somsri Walkin", "Essential (primary) hypertension",
                      "Amlodipine 5 mg tablet", "1 tablet once a day", "Paracetamol 500 mg",
                      "Penicillin", "High risk", "Hives", "132/84 mmHg", "72 /min",
                      "36.6 °C", "Fever and cough", "Bang Rak Health Centre"):
            assert shown in page, shown
        for left_out in ("Gastritis", "Enalapril", "39.9", "Someone else",
                         "Rabies vaccine", "Yellow fever vaccine", "Kham"):
            assert left_out not in page, left_out

        # The trends: blood pressure and heart rate were measured at two visits.
        trends = _section(page, "vital-trends")
        assert trends.count("<svg") == 2 and 'role="img"' in trends
        assert "Systolic" in trends and "Diastolic" in trends  # told apart by more than colour
        assert "150/95 mmHg" in trends and "132/84 mmHg" in trends and "90 /min" in trends
        table = trends.partition("<table")[2]  # the numbers beside the first chart
        assert table.index("1 Mar 2025") < table.index("2 Nov 2024")  # newest first
        assert '<th scope="row">' in trends

        shots = _section(page, "immunizations")
        assert shots.index("Influenza, seasonal, injectable") < shots.index(
            "Hepatitis B vaccine")
        assert "1 Oct 2025" in shots and "1998" in shots and "Given" in shots

        thai = (await patient.get(RECORD_PATH, params={"lang": "th"})).text
        for shown in ("ประวัติสุขภาพของผู้ป่วย", "ความดันโลหิต", "1 มี.ค. 2568",
                      "2541", "Essential (primary) hypertension"):
            assert shown in thai, shown
        assert "Patient record" not in thai and "Latest vital signs" not in thai


async def test_the_access_list_names_the_doctor_who_read_the_record_and_when(
        app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    username, patient_id = await patient_of(store, made, "Dao")
    await make_record(store, made.centre.id, patient_id=patient_id)
    read_at = await _doctor_reads(store, made, patient_id)
    async with browser(app) as someone:
        await sign_in(someone, username, "not her password")
    async with browser(app) as patient:
        await sign_in(patient, username, PASSWORD)
        assert (await patient.get(RECORD_PATH)).status_code == 200
        page = (await patient.get(ACCESS_PATH)).text
        others = _section(page, "others")
        local = read_at.astimezone(BANGKOK)
        shown_at = f"{day_in_record(local.date(), 'en', 'ce')} {clock(read_at, BANGKOK)}"
        row = next(r for r in others.split("<tr>") if "Dr Somchai" in r)
        assert shown_at in row and "Doctor" in row and "Looked at your record" in row
        # Someone tried her password: that stands out, her own visits are apart ...
        attempt = others.partition("Tried to sign in")[2].partition("</tr>")[0]
        assert "Refused or failed" in attempt
        assert "Looked at your record" not in others.replace(row, "")
        own = _section(page, "own")
        assert "<details>" in own and "Dao Walkin" in own  # ... folded away

        thai = (await patient.get(ACCESS_PATH, params={"lang": "th"})).text
        assert "Dr Somchai" in thai
        assert f"{day_in_record(local.date(), 'th', 'be')} {clock(read_at, BANGKOK)}" in thai


async def test_an_emergency_access_is_marked_with_its_reason(
        app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    elsewhere = await make_centre(store)
    username, patient_id = await patient_of(store, made, "Noy")
    await make_record(store, made.centre.id, patient_id=patient_id)
    account = await _account(store, elsewhere.doctor_username)
    reason = "Unconscious at the emergency department, no relative reachable"
    await BreakGlass(store.engine).open(account, patient_id, reason)
    doctor = await person_caller(store, account)
    await record_summary(store, doctor, patient_id, today=datetime.now(BANGKOK).date())
    async with browser(app) as patient:
        await sign_in(patient, username, PASSWORD)
        others = _section((await patient.get(ACCESS_PATH)).text, "others")
        assert "Emergency access" in others and reason in others


async def test_a_family_member_acts_for_the_patient_and_is_listed(
        app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    mother, mother_id = await patient_of(store, made, "Mae")
    await make_record(store, made.centre.id, patient_id=mother_id)
    son, _ = await patient_of(store, made, "Lek")
    async with store.writing(EVERYTHING) as tx:
        related = await tx.create({
            "resourceType": "RelatedPerson", "active": True,
            "patient": {"reference": f"Patient/{mother_id}"},
            "identifier": [{"system": "urn:mor:account", "value": son}],
            "name": [{"text": "Lek, her son"}]})
        await tx.create(_proxy_consent(mother_id, related.id))
    async with browser(app) as family:
        await sign_in(family, son, PASSWORD)
        theirs = await family.get(RECORD_PATH, params={"patient": mother_id})
        assert theirs.status_code == 200, theirs.text
        assert "Health record of a family member" in theirs.text
        assert "Mae Walkin" in theirs.text and "Penicillin" in theirs.text
        assert f"{ACCESS_PATH}?patient={mother_id}" in theirs.text
        own = (await family.get(RECORD_PATH)).text
        assert "Lek Walkin" in own and "Penicillin" not in own
    async with browser(app) as patient:
        await sign_in(patient, mother, PASSWORD)
        others = _section((await patient.get(ACCESS_PATH)).text, "others")
        assert "Lek, her son" in others and "Family member" in others


def _proxy_consent(patient_id: str, related_id: str) -> dict[str, Any]:
    return {"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                            "consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{patient_id}"},
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                 "v3-ActCode", "code": "OPTIN"}]},
            "provision": {"type": "permit", "actor": [{
                "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                               "v3-ParticipationType", "code": "PROV"}]},
                "reference": {"reference": f"RelatedPerson/{related_id}"}}]}}


async def test_no_one_sees_a_record_or_its_access_list_that_is_not_theirs(
        app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    username, _ = await patient_of(store, made, "Kham")
    _, other_id = await patient_of(store, made, "Dao")
    await make_record(store, made.centre.id, patient_id=other_id)
    await _doctor_reads(store, made, other_id)
    async with browser(app) as stranger:
        await sign_in(stranger, username, PASSWORD)
        for path in (RECORD_PATH, ACCESS_PATH):
            refused = await stranger.get(path, params={"patient": other_id})
            assert refused.status_code == 403, path
            for hidden_text in ("Dao", "Penicillin", "Dr Somchai"):
                assert hidden_text not in refused.text, (path, hidden_text)
        mine = (await stranger.get(ACCESS_PATH)).text
        assert "Dr Somchai" not in mine


async def test_staff_are_told_the_page_is_for_patients(
        app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    async with browser(app) as doctor:
        await sign_in_staff(doctor, made.doctor_username, PASSWORD, RECORD_PATH)
        for path in (RECORD_PATH, ACCESS_PATH):
            answer = await doctor.get(path)
            assert answer.status_code == 403 and "This page is for patients" in answer.text


async def test_signing_in_first_comes_back_to_the_page(
        app: Starlette) -> None:
    patient = f"Patient-{uuid.uuid4().hex[:6]}"
    async with browser(app) as anonymous:
        answer = await anonymous.get(ACCESS_PATH, params={"patient": patient})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/auth/login?next=" + quote(
            f"{ACCESS_PATH}?patient={patient}", safe="")


async def test_before_the_id_check_the_page_says_when_the_record_will_be_there(
        app: Starlette) -> None:
    store = app.state.store
    made = await make_centre(store)
    _, patient_id = await patient_of(store, made, "Ying")
    await make_record(store, made.centre.id, patient_id=patient_id)
    username = f"ying-{uuid.uuid4().hex[:6]}"
    await Accounts(store.engine).add(username, PASSWORD, Role.PATIENT,
                                     fhir_user=f"Patient/{patient_id}", verified=False)
    async with browser(app) as patient:
        await sign_in(patient, username, PASSWORD)
        record = await patient.get(RECORD_PATH)
        assert record.status_code == 200
        assert "Once your health centre has checked your ID card" in record.text
        assert "Penicillin" not in record.text
        access = await patient.get(ACCESS_PATH)
        assert access.status_code == 200 and "Dr Somchai" not in access.text
