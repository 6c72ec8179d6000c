"""A resident registers, signs in, books a consultation, moves it and cancels it, in
Chromium, in Thai, Lao and English; an administrator sets up a centre and its roster and
a patient then sees the new times. axe-core checks every page on the way."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pyotp
import pytest
from authlib.common.security import generate_token
from playwright.async_api import Page, expect
from starlette.applications import Starlette

from mor.auth.clients import Clients
from mor.auth.roles import Role
from mor.config import Settings
from mor.services.demo.generate import thai_national_id
from mor.services.scheduling.centres import CentreDetails
from mor.services.staff import add_account
from tests.auth.people import PASSWORD
from tests.auth.test_smart_app_launch import REDIRECT, AsyncOAuth2Client
from tests.e2e.conftest import check_accessibility, screenshot
from tests.scheduling.centre import bang_rak, make_centre

# What each language calls things, so the test reads the pages as their users do.
WORDS = {
    "th-TH": {"booked": "จองเรียบร้อยแล้ว", "moved": "เลื่อนนัดของคุณแล้ว",
              "cancelled": "ยกเลิกนัดของคุณแล้ว", "change": "เปลี่ยนเวลา", "cancel": "ยกเลิก",
              "service": "ตรวจโรคทั่วไป", "ready": "บัญชี", "year": "25"},
    "lo-LA": {"booked": "ຈອງສຳເລັດແລ້ວ", "moved": "ເລື່ອນນັດຂອງທ່ານແລ້ວ",
              "cancelled": "ຍົກເລີກນັດຂອງທ່ານແລ້ວ", "change": "ປ່ຽນເວລາ", "cancel": "ຍົກເລີກ",
              "service": "ກວດພະຍາດທົ່ວໄປ", "ready": "ບັນຊີ", "year": "20"},
    "en-US": {"booked": "Booked.", "moved": "Your appointment has been moved.",
              "cancelled": "Your appointment has been cancelled", "change": "Change the time",
              "cancel": "Cancel", "service": "General practice", "ready": "account",
              "year": "20"},
}


def sent_code(outbox: Path, to: str) -> str:
    for path in sorted(outbox.iterdir(), reverse=True):
        message = json.loads(path.read_text())
        if message["to"] == to:
            found = re.search(r"\b(\d{6})\b", message["text"])
            assert found is not None, message
            return found.group(1)
    raise AssertionError(f"no message to {to} in {outbox}")


async def register(page: Page, outbox: Path, locale: str) -> str:
    rng = random.Random()
    phone = f"+6681{rng.randint(1_000_000, 9_999_999)}"
    await page.goto("/register")
    await check_accessibility(page)
    await page.fill("[name=given]", {"th-TH": "มาลี", "lo-LA": "ມະນີວັນ"}.get(locale, "Mali"))
    await page.fill("[name=family]", {"th-TH": "ใจดี", "lo-LA": "ສີສຸວັນ"}.get(locale, "Chan"))
    await page.fill("[name=birth_date]", "1980-04-13")
    await page.fill("[name=contact]", phone)
    if locale == "lo-LA":
        await page.select_option("[name=document_kind]", "la-national-id")
        await page.fill("[name=document_number]", f"LA{rng.randint(10**7, 10**8 - 1)}")
    elif locale == "th-TH":
        await page.select_option("[name=document_kind]", "th-national-id")
        await page.fill("[name=document_number]", thai_national_id(rng))
    else:
        await page.select_option("[name=document_kind]", "passport")
        await page.fill("[name=document_number]", f"P{rng.randint(10**7, 10**8 - 1)}")
        await page.fill("[name=document_country]", "GBR")
    await page.fill("[name=password]", PASSWORD)
    await page.locator("form [type=submit]").click()
    await page.fill("[name=code]", sent_code(outbox, phone))
    await check_accessibility(page)
    await page.locator("form [type=submit]").click()
    await expect(page.locator("main")).to_contain_text(WORDS[locale]["ready"])
    return phone


@pytest.mark.parametrize("browser_locale", ["th-TH", "lo-LA", "en-US"])
async def test_register_sign_in_book_move_and_cancel(
        page: Page, app: Starlette, settings: Settings, browser_locale: str) -> None:
    words = WORDS[browser_locale]
    made = await make_centre(app.state.store)
    phone = await register(page, settings.outbox_dir, browser_locale)
    times = f"/book/{made.centre.id}/{made.service.id}"

    await page.goto("/book")
    await check_accessibility(page)
    await page.locator(f"a[href='/book/{made.centre.id}']").first.click()
    await check_accessibility(page)
    await page.locator(f"a[href='{times}']").click()
    await expect(page.locator("h1")).to_have_text(words["service"])
    await page.locator("a[href^='/auth/login']").first.click()
    await page.fill("[name=username]", phone)
    await page.fill("[name=password]", PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**{times}")
    await check_accessibility(page)
    if browser_locale == "en-US":
        await screenshot(page, "free-times-phone")
        await screenshot(page, "free-times-desktop", "desktop")

    buttons = page.locator("main .day button[name=slot]")
    first_time, second_time = await buttons.nth(0).inner_text(), await buttons.nth(1).inner_text()
    await buttons.nth(0).click()
    await expect(page.locator("[role=status]")).to_contain_text(words["booked"])
    await expect(page.locator("main")).to_contain_text(first_time)
    await check_accessibility(page)
    if browser_locale == "th-TH":  # Buddhist Era years by default
        await expect(page.locator(".appointment h3").first).to_contain_text(" 25")
    if browser_locale == "en-US":
        await screenshot(page, "my-appointments-phone")
        await screenshot(page, "my-appointments-desktop", "desktop")

    await page.get_by_role("link", name=words["change"]).click()
    await check_accessibility(page)
    await page.locator("main .day button[name=slot]", has_text=second_time).first.click()
    await expect(page.locator("[role=status]")).to_contain_text(words["moved"])
    await expect(page.locator(".appointment h3").first).to_contain_text(second_time)

    await page.locator(".appointment button", has_text=words["cancel"]).first.click()
    await expect(page.locator("[role=status]")).to_contain_text(words["cancelled"])
    await check_accessibility(page)
    await page.goto("/account/sharing")
    await check_accessibility(page)
    await page.goto(await app_authorization_url(app))  # a SMART app asks for access
    await expect(page.locator("main form")).to_be_visible()
    await check_accessibility(page)


async def app_authorization_url(app: Starlette) -> str:
    """The address a registered SMART app sends a person to, to be let in."""
    registered = await Clients(app.state.store.engine).add(
        "My health diary", scope="launch/patient openid fhirUser patient/*.rs",
        redirect_uris=(REDIRECT,))
    oauth = AsyncOAuth2Client(registered.client.client_id, redirect_uri=REDIRECT,
                              code_challenge_method="S256",
                              scope="launch/patient patient/*.rs")
    url, _ = oauth.create_authorization_url("http://mor.test/auth/authorize",
                                            code_verifier=generate_token(48))
    return url.removeprefix("http://mor.test")


async def sign_in_staff(page: Page, username: str, next_url: str) -> None:
    """Password, then the authenticator app, enrolled on the way as at a first sign-in."""
    await page.goto("/auth/login?next=" + next_url)
    await page.fill("[name=username]", username)
    await page.fill("[name=password]", PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/auth/totp**")
    await check_accessibility(page)  # the enrolment page, with its QR code
    secret = await page.locator("[name=secret]").input_value()
    await page.fill("[name=code]", pyotp.TOTP(secret).now())
    await page.locator("form [type=submit]").click()
    await page.wait_for_url("**" + next_url)


async def test_the_staff_pages_work_in_chromium(page: Page, app: Starlette) -> None:
    made = await make_centre(app.state.store)
    await sign_in_staff(page, made.doctor_username, "/staff/today")
    await expect(page.locator("h1")).to_have_text("Bang Rak Health Centre")
    await check_accessibility(page)
    await screenshot(page, "day-list-phone")
    await page.goto("/staff/identity-checks")
    await check_accessibility(page)


async def test_an_admin_sets_up_a_centre_and_roster_and_a_patient_sees_the_times(
        page: Page, app: Starlette) -> None:
    store = app.state.store
    admin = f"city.admin.{random.randrange(10**6)}"
    await add_account(store, admin, PASSWORD, Role.CITY_ADMIN)
    await sign_in_staff(page, admin, "/admin/centres")
    await check_accessibility(page)
    await page.locator("a[href='/admin/centres/new']").click()
    await check_accessibility(page)
    await page.fill("[name=name_th]", "ศูนย์บริการสาธารณสุข จตุจักร")
    await page.fill("[name=name_en]", "Chatuchak Health Centre")
    await page.fill("[name=district_th]", "จตุจักร")
    await page.fill("[name=district_en]", "Chatuchak")
    await page.fill("[name=city]", "Bangkok")
    await page.fill("[name=country]", "TH")
    for day in ("sat", "sun"):
        await page.check(f"[name=days][value={day}]")
    await page.locator("form [type=submit]").click()
    await expect(page.locator("h1")).to_have_text("Chatuchak Health Centre")
    centre_id = page.url.rsplit("/", 1)[1]
    await page.select_option("[name=kind]", "hypertension")
    await page.fill("form:has([name=kind]) [name=slot_minutes]", "30")
    await page.locator("button[value=add-service]").click()
    await expect(page.locator("[role=status]")).to_be_visible()

    await add_account(store, f"doctor.chatuchak.{random.randrange(10**6)}", PASSWORD,
                      Role.DOCTOR, name="Dr Wichai", organizations=(centre_id,))
    await page.reload()
    await page.select_option("[name=clinician]", label="Dr Wichai")
    for day in ("sat", "sun"):
        await page.check(f"form:has([name=clinician]) [name=days][value={day}]")
    await page.fill("[name=start]", "13:00")
    await page.fill("[name=end]", "15:00")
    await page.locator("button[value=add-roster]").click()
    await expect(page.locator("main")).to_contain_text("Dr Wichai")
    await check_accessibility(page)
    await screenshot(page, "centre-admin-desktop", "desktop")

    patient = await page.context.browser.new_context(  # type: ignore[union-attr]
        base_url=page.url.split("/admin")[0], locale="th-TH")
    visitor = await patient.new_page()
    await visitor.goto(f"/book/{centre_id}")
    await visitor.get_by_role("link", name=re.compile("ความดันโลหิตสูง")).click()
    # Days 3 to 5: whole days, whatever the time of day the test runs.
    await visitor.goto(visitor.url.split("?")[0] + "?page=1")
    await expect(visitor.locator("main .day").first).to_contain_text("13:30")
    await expect(visitor.locator("main")).not_to_contain_text("15:00")
    await patient.close()


async def test_booking_by_keyboard_alone(page: Page, app: Starlette, settings: Settings
                                         ) -> None:
    made = await make_centre(app.state.store)
    phone = await register(page, settings.outbox_dir, "en-US")
    await page.goto("/auth/login?next=" + f"/book/{made.centre.id}/{made.service.id}")
    await page.locator("[name=username]").focus()
    await page.keyboard.type(phone)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/book/{made.centre.id}/{made.service.id}")
    first = page.locator("main .day button[name=slot]").first
    for _ in range(40):  # through the header's and the page's links to the first time
        await page.keyboard.press("Tab")
        if await first.evaluate("button => document.activeElement === button"):
            break
    else:
        raise AssertionError("Tab never reached the first free time")
    await page.keyboard.press("Enter")
    await expect(page.locator("[role=status]")).to_contain_text("Booked.")


async def test_thai_and_lao_text_is_drawn_in_thai_and_lao_fonts(page: Page,
                                                                app: Starlette) -> None:
    lao = CentreDetails(names={"lo": "ສຸກສາລາ ຈັນທະບູລີ"}, districts={"lo": "ຈັນທະບູລີ"},
                        address="", city="Vientiane", country="LA", language="lo")
    thai = await make_centre(app.state.store, details=bang_rak())
    laos = await make_centre(app.state.store, details=lao)
    for centre, script in ((thai.centre.id, "Thai"), (laos.centre.id, "Lao")):
        await page.goto(f"/book/{centre}?lang=" + ("th" if script == "Thai" else "lo"))
        session = await page.context.new_cdp_session(page)
        document = await session.send("DOM.getDocument")
        heading = await session.send("DOM.querySelector", {
            "nodeId": document["root"]["nodeId"], "selector": "h1"})
        await session.send("CSS.enable")
        fonts = await session.send("CSS.getPlatformFontsForNode",
                                   {"nodeId": heading["nodeId"]})
        families = [f["familyName"] for f in fonts["fonts"]]
        # The glyphs came from fonts made for the script (Debian: TLWG's Loma and the
        # like for Thai, Phetsarath OT for Lao), not from a fallback that draws boxes.
        assert families and all(f not in ("DejaVu Sans", "Last Resort") for f in families), (
            script, families)
        await session.detach()
