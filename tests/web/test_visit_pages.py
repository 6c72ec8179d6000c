"""The visit note through HTTP, as the consultation screen uses it: typed beside the call
and kept as a draft as the doctor types, diagnoses suggested from ICD-10, the
prescription's warnings shown and acknowledged, then signed into the record; and what
is refused, and to whom."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette

from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.lookup import find
from tests.auth.people import PASSWORD
from tests.records.test_signing import a_consult
from tests.video.conftest import Centre, centre_with_staff, clinician_at
from tests.web.browser import browser, hidden, sign_in, sign_in_staff
from tests.web.test_video_pages import registered_patient

NOTE = {
    "subjective": "Sore throat for two days.", "objective": "Red throat, no pus.",
    "assessment": "Viral sore throat.", "plan": "Rest, fluids.",
    "advice": "Drink warm water; come back if the fever lasts three days.",
    "systolic": "128", "diastolic": "82", "heart_rate": "76", "temperature": "37.4",
    "weight": "64", "height": "160",
    "diagnosis-0": "j02.9", "diagnosis-0-provisional": "1",
    "rx-0-medicine": "amoxicillin-500-cap", "rx-0-dose": "1", "rx-0-per-day": "3",
    "rx-0-days": "7",
}


@asynccontextmanager
async def doctor_at_call(app: Starlette
                         ) -> AsyncIterator[tuple[Centre, str, httpx.AsyncClient]]:
    """A doctor signed in, in a consult with a patient allergic to penicillin: the
    centre, the encounter, and the doctor's browser."""
    store: Store = app.state.store
    centre = await centre_with_staff(store)
    encounter_id, _ = await a_consult(store, centre)
    async with browser(app) as doctor:
        await sign_in_staff(doctor, centre.made.doctor_username, PASSWORD, "/staff/video")
        yield centre, encounter_id, doctor


async def compositions(store: Store, encounter_id: str) -> list[dict[str, Any]]:
    async with store.reading(EVERYTHING) as tx:
        return await find(tx, "Composition", [("encounter", f"Encounter/{encounter_id}")])


async def test_the_note_is_kept_as_typed_then_signed_after_the_warning_is_read(
        app: Starlette) -> None:
    store: Store = app.state.store
    async with doctor_at_call(app) as (_, encounter_id, doctor):
        call = (await doctor.get(f"/video/{encounter_id}")).text
        assert 'id="visit-form"' in call and "Sign the visit note" in call
        csrf = hidden(call, "csrf_token")

        saved = await doctor.post(f"/visits/{encounter_id}/draft",
                                  data={**NOTE, "csrf_token": csrf})
        assert saved.status_code == 200, saved.text
        answer = saved.json()
        assert answer["saved"] and answer["problems"] == []
        # The patient's recorded penicillin allergy, beside the amoxicillin.
        assert any("enicillin" in text for text in answer["warnings"]["0"])

        # The page opened again (another tab, after a dropped call) has it all back.
        again = (await doctor.get(f"/visits/{encounter_id}")).text
        for typed in ("Sore throat for two days.", "Viral sore throat.", 'value="128"',
                      'value="J02.9"', "Acute pharyngitis, unspecified",
                      'value="amoxicillin-500-cap" selected', "Draft saved at"):
            assert typed in again, typed
        assert 'id="bmi"' in again and "25" in again  # 64 kg at 160 cm

        refused = await doctor.post(f"/visits/{encounter_id}/sign",
                                    data={**NOTE, "csrf_token": csrf})
        assert refused.status_code == 409
        assert "confirm you prescribe them all the same" in refused.text
        assert "enicillin" in refused.text
        assert "I have read the warnings and prescribe it all the same" in refused.text
        assert "Sore throat for two days." in refused.text  # nothing typed is lost
        assert await compositions(store, encounter_id) == []

        signed = await doctor.post(f"/visits/{encounter_id}/sign", data={
            **NOTE, "rx-0-acknowledged": "1", "csrf_token": csrf})
        assert signed.status_code == 303, signed.text
        assert signed.headers["location"] == f"/visits/{encounter_id}"
        shown = (await doctor.get(signed.headers["location"])).text
        assert "Signed at" in shown
        assert "in the patient\N{RIGHT SINGLE QUOTATION MARK}s record" in shown
        [note] = await compositions(store, encounter_id)
        assert note["status"] == "final"

        # Signed once: a second try is refused, and the draft is gone.
        twice = await doctor.post(f"/visits/{encounter_id}/sign", data={
            **NOTE, "rx-0-acknowledged": "1", "csrf_token": csrf})
        assert twice.status_code == 400 and "signed already" in twice.text


async def test_a_number_that_is_not_one_is_named_and_the_rest_is_kept(
        app: Starlette) -> None:
    store: Store = app.state.store
    async with doctor_at_call(app) as (_, encounter_id, doctor):
        csrf = hidden((await doctor.get(f"/visits/{encounter_id}")).text, "csrf_token")
        typo = {**NOTE, "temperature": "37..4", "csrf_token": csrf}

        saved = (await doctor.post(f"/visits/{encounter_id}/draft", data=typo)).json()
        assert saved["problems"] == [{"field": "temperature", "message":
                                      "Write a number in “Temperature”, like 36.8"}]
        kept = (await doctor.get(f"/visits/{encounter_id}")).text
        assert "Viral sore throat." in kept and 'value="128"' in kept

        refused = await doctor.post(f"/visits/{encounter_id}/sign", data=typo)
        assert refused.status_code == 400
        assert "Write a number in “Temperature”" in refused.text
        assert 'name="temperature" value="" autocomplete="off" aria-invalid="true"' in \
            refused.text
        assert "Viral sore throat." in refused.text
        assert await compositions(store, encounter_id) == []

        thai = await doctor.post(f"/visits/{encounter_id}/sign", params={"lang": "th"},
                                 data={**NOTE, "systolic": "400", "csrf_token": csrf})
        assert thai.status_code == 400
        assert "ความดันโลหิต" in thai.text  # the vital sign named in Thai


async def test_diagnoses_are_suggested_from_icd10_in_the_readers_language(
        app: Starlette) -> None:
    async with doctor_at_call(app) as (_, _, doctor):
        english = (await doctor.get("/visits/diagnoses", params={"q": "hypertens"})).json()
        assert {"code": "I10", "name": "Essential (primary) hypertension"} in \
            english["diagnoses"]
        by_code = (await doctor.get("/visits/diagnoses", params={"q": "E11"})).json()
        assert by_code["diagnoses"][0]["code"].startswith("E11")
        thai = (await doctor.get("/visits/diagnoses", params={"q": "I10"},
                                 headers={"Accept-Language": "th"})).json()
        assert thai["diagnoses"][0]["code"] == "I10"
        assert any("\u0e00" <= ch <= "\u0e7f" for ch in thai["diagnoses"][0]["name"])


async def test_only_the_clinician_of_the_visit_writes_its_note(app: Starlette) -> None:
    store: Store = app.state.store
    async with doctor_at_call(app) as (centre, encounter_id, doctor), \
            browser(app) as colleague, browser(app) as patient:
        other = await clinician_at(store, centre.id, Role.DOCTOR, "Dr Other")
        assert other.caller.account is not None
        await sign_in_staff(colleague, other.caller.account.username, PASSWORD,
                            f"/visits/{encounter_id}")
        page = await colleague.get(f"/visits/{encounter_id}")
        assert page.status_code == 403 and "not yours to write" in page.text
        csrf = hidden(page.text, "csrf_token")
        draft = await colleague.post(f"/visits/{encounter_id}/draft",
                                     data={**NOTE, "csrf_token": csrf})
        assert draft.status_code == 403
        signed = await colleague.post(f"/visits/{encounter_id}/sign",
                                      data={**NOTE, "csrf_token": csrf})
        assert signed.status_code == 403
        assert await compositions(store, encounter_id) == []

        # Without the form's token nothing is saved.
        forged = await doctor.post(f"/visits/{encounter_id}/draft",
                                   data={**NOTE, "csrf_token": "forged"})
        assert forged.status_code == 400

        await sign_in(patient, await registered_patient(store, centre.made, "Nid"), PASSWORD)
        as_patient = await patient.get(f"/visits/{encounter_id}")
        assert as_patient.status_code == 403
        assert "for doctors and nurses" in as_patient.text
        suggestions = await patient.get("/visits/diagnoses", params={"q": "I10"})
        assert suggestions.status_code == 403
