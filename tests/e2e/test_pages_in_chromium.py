"""The sign-in and registration pages in Chromium: they render, pass axe-core's checks,
switch language from the header, work from the keyboard alone, and show the person's
mistakes; the screenshots in docs/screenshots come from here."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect

from mor.auth.accounts import Accounts
from mor.auth.roles import Role
from mor.config import Settings
from mor.db.engine import create_engine
from tests.auth.people import PASSWORD
from tests.e2e.conftest import check_accessibility, screenshot

WRONG_THAI_ID = "1101700203451"  # the check digit of 1101700203450 is 0


@pytest.fixture
async def patient(settings: Settings) -> AsyncIterator[str]:
    """The username of a new patient account, with the password tests.auth.people.PASSWORD."""
    username = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    engine = create_engine(settings)
    try:
        await Accounts(engine).add(username, PASSWORD, Role.PATIENT,
                                   fhir_user=f"Patient/{uuid.uuid4()}", verified=True)
    finally:
        await engine.dispose()
    yield username


async def _tab(page: Page, keys: str = "Tab") -> str:
    """Presses Tab (or ``keys``) and says where the focus went."""
    await page.keyboard.press(keys)
    return await _focused(page)


async def _focused(page: Page) -> str:
    """The element with the keyboard focus, as ``tag[name]`` or ``tag "text"``."""
    return str(await page.evaluate("""() => {
        const e = document.activeElement;
        const name = e.getAttribute("name");
        return e.tagName.toLowerCase() + (name ? `[${name}]` : ` "${e.textContent.trim()}"`);
    }"""))


async def test_the_sign_in_page_is_accessible(page: Page) -> None:
    await page.goto("/auth/login")
    await expect(page).to_have_title("Sign in · mor")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    await expect(page.get_by_label("Password")).to_have_attribute("type", "password")
    await check_accessibility(page)
    await screenshot(page, "sign-in-phone", "phone")
    await screenshot(page, "sign-in-desktop", "desktop")


async def test_the_registration_page_is_accessible(page: Page) -> None:
    await page.goto("/register")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Register")
    for label in ("Given name", "Family name", "Date of birth",
                  "Phone number or e-mail address", "Identity document", "Document number"):
        await expect(page.get_by_label(label)).to_be_visible()
    await check_accessibility(page)
    await screenshot(page, "register-phone", "phone")
    await screenshot(page, "register-desktop", "desktop")


async def test_the_keyboard_reaches_the_sign_in_form_and_enter_signs_in(
    page: Page, patient: str,
) -> None:
    await page.goto("/auth/login")
    visited = []
    # Past the header's links, then the form in order, and back.
    while "input[username]" not in visited and len(visited) < 12:
        visited.append(await _tab(page))
    assert visited[-1] == "input[username]", f"Tab went {visited}, never to the name"
    assert [await _tab(page), await _tab(page)] == ["input[password]", 'button "Sign in"']
    assert [await _tab(page, "Shift+Tab"), await _tab(page, "Shift+Tab")] == [
        "input[password]", "input[username]"]
    await page.keyboard.type(patient)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/auth/signed-in$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("You are signed in")
    await expect(page.get_by_text(patient)).to_be_visible()
    await check_accessibility(page)


async def test_a_wrong_password_is_announced_and_the_name_kept(page: Page, patient: str
                                                              ) -> None:
    await page.goto("/auth/login")
    await page.get_by_label("Name").fill(patient)
    await page.get_by_label("Password").fill("not the password at all")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("The name or password is wrong")
    await expect(page.get_by_label("Name")).to_have_value(patient)
    await check_accessibility(page)


async def test_the_header_switches_to_thai_and_the_choice_is_remembered(page: Page) -> None:
    await page.goto("/auth/login")
    await page.get_by_role("link", name="ไทย").click()
    await expect(page.locator("html")).to_have_attribute("lang", "th")
    await expect(page.get_by_role("heading", level=1)).to_have_text("เข้าสู่ระบบ")
    await expect(page.get_by_role("button", name="เข้าสู่ระบบ")).to_be_visible()
    await check_accessibility(page)
    await page.goto("/register")
    await expect(page.locator("html")).to_have_attribute("lang", "th")
    await expect(page.get_by_role("heading", level=1)).to_have_text("ลงทะเบียน")
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Register")


@pytest.mark.parametrize("browser_locale", ["lo-LA"])
async def test_a_lao_browser_gets_the_pages_in_lao(page: Page) -> None:
    await page.goto("/auth/login")
    await expect(page.locator("html")).to_have_attribute("lang", "lo")
    await expect(page.get_by_role("heading", level=1)).to_have_text("ເຂົ້າສູ່ລະບົບ")
    await check_accessibility(page)


async def test_the_browser_holds_back_an_empty_registration(page: Page) -> None:
    await page.goto("/register")
    await page.get_by_role("button", name="Send me a code").click()
    # Chromium refuses the form itself and puts the cursor in the first empty field.
    await expect(page).to_have_url(re.compile(r"/register$"))
    assert await _focused(page) == "input[given]"
    assert await page.get_by_label("Given name").evaluate("e => e.validity.valueMissing")


async def test_a_wrong_id_number_is_explained_and_the_details_kept(page: Page) -> None:
    await page.goto("/register?lang=th")
    await page.locator("input[name=given]").fill("สมศรี")
    await page.locator("input[name=family]").fill("ใจดี")
    await page.locator("input[name=birth_date]").fill("1958-04-13")
    await page.locator("input[name=contact]").fill("0812345678")
    await page.locator("select[name=document_kind]").select_option("th-national-id")
    await page.locator("input[name=document_number]").fill(WRONG_THAI_ID)
    await page.locator("input[name=password]").fill("ปลอดภัยมากพอ 2026")
    await page.locator("input[name=password]").press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("เลขประจำตัวประชาชนไทยมี 13 หลัก")
    await expect(page.locator("input[name=given]")).to_have_value("สมศรี")
    await expect(page.locator("input[name=document_number]")).to_have_value(WRONG_THAI_ID)
    await check_accessibility(page)
