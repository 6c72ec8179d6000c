"""Signing in to mor's pages: password, then for staff a TOTP second factor (enrolled by
QR code the first time), secure cookies, CSRF on every form, and the pages in Thai, Lao
and English."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pyotp
import pytest
from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.auth.roles import Role
from mor.db.schema import account
from tests.web.browser import browser, hidden, sign_in

PASSWORD = "a long enough password"


@pytest.fixture
async def accounts(app: Starlette) -> AsyncIterator[Accounts]:
    engine = app.state.store.engine
    async with engine.begin() as conn:
        await conn.execute(account.delete())
    accounts = Accounts(engine)
    await accounts.add("dr.malee", PASSWORD, Role.DOCTOR, fhir_user="Practitioner/malee",
                       organizations=("hc-1",))
    await accounts.add("somsri@example.com", PASSWORD, Role.PATIENT,
                       fhir_user="Patient/somsri", verified=True)
    yield accounts


async def test_staff_enrol_a_second_factor_then_need_it(app: Starlette, accounts: Accounts
                                                        ) -> None:
    async with browser(app) as http:
        response = await sign_in(http, "dr.malee", PASSWORD)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/auth/totp")
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
        # Half signed in: nothing beyond the second step yet.
        assert (await http.get("/auth/signed-in")).headers["location"] == "/auth/login"
        page = (await http.get("/auth/totp")).text
        assert "<svg" in page
        secret = hidden(page, "secret")
        wrong = await http.post("/auth/totp", data={
            "csrf_token": hidden(page, "csrf_token"), "secret": secret, "code": "000000",
            "next": "/auth/signed-in"})
        assert wrong.status_code == 401
        assert "not right" in wrong.text
        done = await http.post("/auth/totp", data={
            "csrf_token": hidden(page, "csrf_token"), "secret": secret,
            "code": pyotp.TOTP(secret).now(), "next": "/auth/signed-in"})
        assert done.status_code == 303
        assert "dr.malee" in (await http.get("/auth/signed-in")).text
    # The next sign-in asks for a code from the same app, and shows no QR code.
    async with browser(app) as http:
        await sign_in(http, "dr.malee", PASSWORD)
        page = (await http.get("/auth/totp")).text
        assert "<svg" not in page and 'name="secret"' not in page
        done = await http.post("/auth/totp", data={
            "csrf_token": hidden(page, "csrf_token"), "code": pyotp.TOTP(secret).now(),
            "next": "/auth/signed-in"})
        assert done.status_code == 303


async def test_patients_sign_in_with_a_password_and_can_sign_out(
    app: Starlette, accounts: Accounts,
) -> None:
    async with browser(app) as http:
        response = await sign_in(http, "Somsri@Example.com", PASSWORD)
        assert response.headers["location"] == "/auth/signed-in"
        page = await http.get("/auth/signed-in")
        assert page.status_code == 200
        out = await http.post("/auth/logout", data={"csrf_token": hidden(page.text,
                                                                         "csrf_token")})
        assert out.status_code == 200
        assert (await http.get("/auth/signed-in")).status_code == 303


async def test_wrong_passwords_and_forged_forms_are_refused(
    app: Starlette, accounts: Accounts,
) -> None:
    async with browser(app) as http:
        response = await sign_in(http, "dr.malee", "not the password")
        assert response.status_code == 401
        assert "wrong" in response.text
        await http.get("/auth/login")
        forged = await http.post("/auth/login", data={
            "username": "dr.malee", "password": PASSWORD, "csrf_token": "guessed"})
        assert forged.status_code == 400
        assert "mor_session" not in forged.headers.get("set-cookie", "")
    # Another site's page cannot post a sign-out for a signed-in patient either.
    async with browser(app) as http:
        await sign_in(http, "somsri@example.com", PASSWORD)
        await http.post("/auth/logout", data={"csrf_token": "from another site"})
        assert (await http.get("/auth/signed-in")).status_code == 200


async def test_a_sign_in_never_sends_the_browser_to_another_site(
    app: Starlette, accounts: Accounts,
) -> None:
    async with browser(app) as http:
        response = await sign_in(http, "somsri@example.com", PASSWORD,
                                 next_url="//evil.example/steal")
        assert response.headers["location"] == "/auth/signed-in"


@pytest.mark.parametrize(("language", "title"), [
    ("th", "เข้าสู่ระบบ"), ("lo", "ເຂົ້າສູ່ລະບົບ"), ("en", "Sign in")])
async def test_pages_follow_the_browser_language(app: Starlette, language: str, title: str
                                                 ) -> None:
    async with browser(app, language) as http:
        page = await http.get("/auth/login")
        assert f'<html lang="{language}">' in page.text
        assert f"<h1>{title}</h1>" in page.text


async def test_the_language_can_be_switched_and_is_remembered(app: Starlette) -> None:
    async with browser(app, "en") as http:
        page = await http.get("/auth/login", params={"lang": "lo"})
        assert "<h1>ເຂົ້າສູ່ລະບົບ</h1>" in page.text
        assert "mor_lang=lo" in page.headers["set-cookie"]
        again = await http.get("/auth/login")
        assert "<h1>ເຂົ້າສູ່ລະບົບ</h1>" in again.text
        # Every page links to the other languages, keeping what the page was asked.
        assert 'href="/auth/login?lang=th"' in again.text


async def test_security_headers_on_pages_and_the_api(app: Starlette) -> None:
    async with browser(app) as http:
        for url in ("/auth/login", "/fhir/metadata", "/fhir/Patient"):
            headers = (await http.get(url)).headers
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["strict-transport-security"].startswith("max-age=")


async def test_sign_ins_and_failures_are_audited(
    app: Starlette, accounts: Accounts, client: httpx.AsyncClient,
) -> None:
    async with browser(app) as http:
        await sign_in(http, "somsri@example.com", "wrong password")
        await sign_in(http, "nobody@example.com", "my password by mistake")
        page = await http.get((await sign_in(http, "somsri@example.com", PASSWORD))
                              .headers["location"])
        await http.post("/auth/logout", data={"csrf_token": hidden(page.text, "csrf_token")})
    bundle = (await client.get("/AuditEvent", params={
        "type": "http://dicom.nema.org/resources/ontology/DCM|110114",
        "_sort": "date"})).json()
    events = [(e["resource"]["subtype"][0]["display"], e["resource"]["outcome"],
               e["resource"]["agent"][0]["who"].get("reference"),
               e["resource"]["agent"][0]["who"].get("display"))
              for e in bundle["entry"]]
    assert events == [
        ("Login", "4", "Patient/somsri", "somsri@example.com"),
        ("Login", "4", None, "(no such account)"),
        ("Login", "0", "Patient/somsri", "somsri@example.com"),
        ("Logout", "0", "Patient/somsri", "somsri@example.com"),
    ]
    assert "my password by mistake" not in str(bundle)
