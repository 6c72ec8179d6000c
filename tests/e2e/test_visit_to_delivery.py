"""The whole path of a visit in Chromium, in the patient's and staff's language: a booked
video consult; the doctor writes the note beside the call (vital signs with the BMI
worked out, an ICD-10 diagnosis found as typed, a prescription whose allergy warning
they must acknowledge) and signs it; the pharmacist checks and dispenses it for a rider
and sends it on its way; the patient reads the delivery's status and downloads the
prescription, whose PDF holds the medicine's name in their language.

Thai and English run on SQLite and Lao on PostgreSQL: each language once, each database
too, and the suite's time spent once per language rather than twice."""

from __future__ import annotations

import re
from datetime import time

from playwright.async_api import Browser, Page, expect
from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.auth.roles import Role
from mor.config import Settings
from mor.fhir.store import Store
from mor.services.pharmacy.delivery import STEP_NAMES
from mor.services.prescribing.formulary import Formulary, seed
from mor.services.scheduling.rosters import Shift
from mor.services.terminology import icd10
from mor.web.i18n import translations
from tests.documents.pdf_text import pdf_text, readable
from tests.e2e.conftest import SIZES, check_accessibility, screenshot, watched_page
from tests.e2e.test_booking_in_chromium import sign_in_staff
from tests.e2e.test_video_consult import (
    patient_with_appointment_now,
    received_media,
    sign_in_patient,
)
from tests.records.patient_record import make_record
from tests.scheduling.centre import EVERY_DAY, make_centre
from tests.video.conftest import clinician_at

LOCALES = {"th": "th-TH", "lo": "lo-LA", "en": "en-GB"}
AMOXICILLIN = "amoxicillin-500-cap"
DIAGNOSIS = "J02.9"


def languages_on(settings: Settings) -> tuple[str, ...]:
    return ("lo",) if settings.database_url.startswith("postgresql") else ("th", "en")


async def test_a_visit_from_the_call_to_the_medicines_at_home(
        chromium: Browser, mor_site: str, app: Starlette, settings: Settings) -> None:
    for language in languages_on(settings):
        await whole_path(chromium, mor_site, app, language)


async def whole_path(chromium: Browser, mor_site: str, app: Starlette, language: str
                     ) -> None:
    store: Store = app.state.store
    text = translations(language).gettext
    await seed(store)
    made = await make_centre(store, shifts=(Shift(EVERY_DAY, time(0), time(23, 59)),))
    pharmacist = await clinician_at(store, made.centre.id, Role.PHARMACIST, "Nok")
    assert pharmacist.caller.account is not None
    username, appointment_id = await patient_with_appointment_now(store, made)
    account = await Accounts(store.engine).find(username)
    assert account is not None and account.fhir_user_id
    await make_record(store, None, patient_id=account.fhir_user_id)  # penicillin allergy
    medicine = Formulary().get(AMOXICILLIN)
    assert medicine is not None
    locale = LOCALES[language]

    async with watched_page(chromium, mor_site, locale) as patient, \
            watched_page(chromium, mor_site, locale) as doctor:
        await sign_in_patient(patient, username, "/appointments")
        await patient.goto(f"/appointments/{appointment_id}/video")
        await patient.wait_for_url("**/video/*")
        encounter_id = patient.url.rstrip("/").rsplit("/", 1)[1]
        await sign_in_staff(doctor, made.doctor_username, "/staff/video")
        await doctor.locator("form[action$='/admit'] button").first.click()
        await doctor.wait_for_url(f"**/video/{encounter_id}")
        for side in (patient, doctor):
            assert await received_media(side)

        await write_the_note(doctor, language)
        await check_accessibility(doctor)
        if language == "en":
            await doctor.set_viewport_size(SIZES["desktop"])
            await doctor.evaluate("document.getElementById('visit-note').scrollIntoView()")
            await screenshot(doctor, "visit-note-desktop", "desktop")
            await doctor.set_viewport_size(SIZES["phone"])

        # Signing without reading the warning is refused, and nothing typed is lost.
        await doctor.locator("#visit-form button[type=submit]").click()
        await expect(doctor.locator("#visit-problem")).to_be_visible()
        await expect(doctor.locator("[name=subjective]")).to_have_value(
            "Sore throat for two days")
        await doctor.locator("[name=rx-0-acknowledged]").check()
        await doctor.locator("#visit-form button[type=submit]").click()
        await doctor.wait_for_url(f"**/visits/{encounter_id}")
        await expect(doctor.locator("p.done")).to_be_visible()
        await check_accessibility(doctor)

    async with watched_page(chromium, mor_site, locale) as nok:
        await sign_in_staff(nok, pharmacist.caller.account.username, "/pharmacy")
        checking = nok.locator("article.prescription").first
        await expect(checking).to_contain_text(medicine.names.in_language(language))
        await expect(checking.locator(".notice")).to_be_visible()  # the overridden warning
        await check_accessibility(nok)
        await checking.locator("form[action$='/accept'] button").click()
        await nok.wait_for_url("**/pharmacy?**")
        await nok.locator("form[action$='/dispense'] button").click()
        await nok.wait_for_url("**/pharmacy?**")
        await nok.locator("input[name=to][value=on-the-way] + button").click()
        await nok.wait_for_url("**/pharmacy?**")
        await check_accessibility(nok)
        if language == "en":
            await screenshot(nok, "pharmacy-phone")

    async with watched_page(chromium, mor_site, locale) as patient:
        await sign_in_patient(patient, username, "/my/visits")
        await patient.locator(f"a[href='/my/visits/{encounter_id}']").click()
        await expect(patient.locator("#delivery-status")).to_contain_text(
            text(STEP_NAMES["on-the-way"]))
        await expect(patient.locator("main")).to_contain_text(
            icd10_name(DIAGNOSIS, language))
        await check_accessibility(patient)
        if language == "en":
            await screenshot(patient, "visit-summary-phone")
        async with patient.expect_download() as downloading:
            await patient.locator("a[href^='/documents/']").first.click()
        download = await downloading.value
        path = await download.path()
        pdf = pdf_text(path.read_bytes())
        assert readable(medicine.names.in_language(language)) in pdf
        if language == "th":
            assert readable(medicine.names.th) in pdf


async def write_the_note(doctor: Page, language: str) -> None:
    """As a doctor types it beside the call, waiting for what the page works out."""
    form = doctor.locator("#visit-form")
    await form.locator("[name=subjective]").fill("Sore throat for two days")
    await form.locator("[name=assessment]").fill("Viral sore throat")
    await form.locator("[name=advice]").fill("Drink warm water")
    for name, value in (("systolic", "128"), ("diastolic", "82"), ("temperature", "37.4"),
                        ("weight", "64"), ("height", "160")):
        await form.locator(f"[name={name}]").fill(value)
    await expect(doctor.locator("#bmi")).to_have_text("25")
    await form.locator("[name=diagnosis-0]").press_sequentially(DIAGNOSIS)
    await expect(form.locator("[data-name-of=diagnosis-0]")).to_have_text(
        icd10_name(DIAGNOSIS, language))
    await form.locator("[name=rx-0-medicine]").select_option(AMOXICILLIN)
    for name, value in (("rx-0-dose", "1"), ("rx-0-per-day", "3"), ("rx-0-days", "7")):
        await form.locator(f"[name={name}]").fill(value)
    # The draft is saved, and the allergy warning comes back beside the medicine.
    await expect(form.locator("[data-warnings-of='0'] li").first).to_be_visible()
    await expect(form.locator("[data-warnings-of='0'] .acknowledge")).to_be_visible()
    saved = translations(language).gettext("Draft saved at {time}").split("{time}")[0]
    await expect(doctor.locator("#draft-status")).to_contain_text(
        re.compile(re.escape(saved.strip())))


def icd10_name(code: str, language: str) -> str:
    found = icd10.lookup(code)
    assert found is not None
    return found.name(language)
