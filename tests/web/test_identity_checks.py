"""Health-centre staff check a registered patient's identity document in person: the page
lists who is waiting without their document numbers, the number read off the card
verifies the account, and the check is on the record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette

from mor.api.app import create_app
from mor.auth.accounts import Account, Accounts
from mor.auth.roles import Role
from mor.config import Settings
from mor.db.schema import account
from mor.services.registration import Details, Message, Registrations
from tests.auth.people import account_token, bearer
from tests.web.browser import browser, hidden, sign_in
from tests.web.browser import sign_in_staff as browser_sign_in_staff

PASSWORD = "a long enough password"
THAI_ID = "1101700203450"
PAGE = "/staff/identity-checks"


class Phone:
    """Where the registration's one-time code goes."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def send(self, to: str, subject: str, text: str) -> None:
        self.texts.append(text)


@pytest.fixture
async def accounts(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[Accounts]:
    engine = app.state.store.engine
    async with engine.begin() as conn:
        await conn.execute(account.delete())
    accounts = Accounts(engine)
    staff = [("nurse.malee", Role.NURSE), ("admin.dusit", Role.CENTRE_ADMIN),
             ("admin.city", Role.CITY_ADMIN), ("pharm.anan", Role.PHARMACIST)]
    for username, role in staff:
        await accounts.add(username, PASSWORD, role, fhir_user=f"Practitioner/{username}",
                           organizations=("hc-1",))
    yield accounts


async def register(app: Starlette, accounts: Accounts) -> Account:
    """Somsri registers herself, as on /register, with her Thai ID card."""
    phone = Phone()
    registrations = Registrations(app.state.store, accounts, phone, phone)
    started = await registrations.start(
        Details("สมศรี", "ใจดี", "1958-04-13", "0812345678", "th-national-id", THAI_ID),
        PASSWORD, Message("code", "{code}"))
    return await registrations.confirm(started, phone.texts[0])


async def sign_in_staff(http: httpx.AsyncClient, username: str) -> None:
    done = await browser_sign_in_staff(http, username, PASSWORD, PAGE)
    assert done.headers["location"] == PAGE


async def test_a_nurse_verifies_a_patient_by_the_number_on_the_card(
    app: Starlette, accounts: Accounts, client: httpx.AsyncClient,
) -> None:
    somsri = await register(app, accounts)
    token = bearer(await account_token(app.state.store.engine, somsri))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://mor.test/fhir", headers=token) as fhir:
        assert (await fhir.get(f"/{somsri.fhir_user}")).status_code == 404
        async with browser(app) as http:
            await sign_in_staff(http, "nurse.malee")
            page = await http.get(PAGE)
            assert page.status_code == 200
            assert "สมศรี ใจดี" in page.text and "1958-04-13" in page.text
            assert "Thai national ID card" in page.text
            # The nurse reads the number off the card: the page never shows it.
            assert THAI_ID not in page.text and THAI_ID[-4:] not in page.text
            form = {"csrf_token": hidden(page.text, "csrf_token"),
                    "account": hidden(page.text, "account")}

            wrong = await http.post(PAGE, data={**form, "number": "3100600123456"})
            assert wrong.status_code == 400
            assert ("The number does not match the document given at registration; check "
                    "the card again or ask the patient to register again") in wrong.text
            assert not (await accounts.find("0812345678")).verified  # type: ignore[union-attr]
            assert (await fhir.get(f"/{somsri.fhir_user}")).status_code == 404

            # Typed as printed on the card, in groups.
            right = await http.post(PAGE, data={**form, "number": "1 1017 00203 45 0"})
            assert right.status_code == 200
            assert "Verified" in right.text and "สมศรี" not in right.text
        assert (await accounts.find("0812345678")).verified  # type: ignore[union-attr]
        own = await fhir.get(f"/{somsri.fhir_user}")
        assert own.status_code == 200
        assert own.json()["birthDate"] == "1958-04-13"
        # She registered online, so belonged to no centre: now she is the nurse's centre's.
        assert own.json()["managingOrganization"] == {"reference": "Organization/hc-1"}
    nurse_token = bearer(await account_token(app.state.store.engine,
                                             await accounts.find("nurse.malee")))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://mor.test/fhir", headers=nurse_token) as fhir:
        assert (await fhir.get(f"/{somsri.fhir_user}")).status_code == 200

    checks = (await client.get("/AuditEvent", params={
        "type": "http://dicom.nema.org/resources/ontology/DCM|110113",
        "patient": somsri.fhir_user, "_sort": "date"})).json()
    events = [(e["resource"]["outcome"], e["resource"]["agent"][0]["who"])
              for e in checks["entry"]]
    nurse = {"reference": "Practitioner/nurse.malee", "display": "nurse.malee"}
    assert events == [("4", nurse), ("0", nurse)]
    assert THAI_ID not in str(checks)
    # Seeing her on the list is on her record too.
    shown = (await client.get("/AuditEvent", params={
        "type": "http://dicom.nema.org/resources/ontology/DCM|110110",
        "patient": somsri.fhir_user})).json()
    assert shown["entry"] and all(e["resource"]["agent"][0]["who"] == nurse
                                  for e in shown["entry"])


async def test_the_page_is_in_the_staff_members_language(
    app: Starlette, accounts: Accounts,
) -> None:
    await register(app, accounts)
    async with browser(app, "lo") as http:
        await sign_in_staff(http, "admin.dusit")
        page = await http.get(PAGE)
        assert page.status_code == 200
        assert "<h1>ກວດສອບຕົວຕົນ</h1>" in page.text
        assert "ບັດປະຈຳຕົວປະຊາຊົນໄທ" in page.text  # Thai national ID card


@pytest.mark.parametrize("username", ["admin.city", "pharm.anan"])
async def test_other_staff_cannot_use_the_page(
    app: Starlette, accounts: Accounts, username: str,
) -> None:
    somsri = await register(app, accounts)
    async with browser(app) as http:
        await sign_in_staff(http, username)
        page = await http.get(PAGE)
        assert page.status_code == 403
        assert "สมศรี" not in page.text
        refused = await http.post(PAGE, data={
            "csrf_token": hidden(page.text, "csrf_token"), "account": somsri.id,
            "number": THAI_ID})
        assert refused.status_code == 403
    assert not (await accounts.get(somsri.id)).verified  # type: ignore[union-attr]


async def test_a_patient_cannot_verify_themselves(app: Starlette, accounts: Accounts) -> None:
    somsri = await register(app, accounts)
    async with browser(app) as http:
        await sign_in(http, "0812345678", PASSWORD)
        page = await http.get(PAGE)
        assert page.status_code == 403
        refused = await http.post(PAGE, data={
            "csrf_token": hidden(page.text, "csrf_token"), "account": somsri.id,
            "number": THAI_ID})
        assert refused.status_code == 403
    assert not (await accounts.get(somsri.id)).verified  # type: ignore[union-attr]


async def test_without_signing_in_the_page_sends_to_sign_in(
    app: Starlette, accounts: Accounts,
) -> None:
    somsri = await register(app, accounts)
    async with browser(app) as http:
        page = await http.get(PAGE)
        assert page.status_code == 303
        assert page.headers["location"] == "/auth/login?next=%2Fstaff%2Fidentity-checks"
        forged = await http.post(PAGE, data={"account": somsri.id, "number": THAI_ID})
        assert forged.status_code == 303
    assert not (await accounts.get(somsri.id)).verified  # type: ignore[union-attr]


async def test_a_post_without_the_csrf_token_is_refused(
    app: Starlette, accounts: Accounts,
) -> None:
    somsri = await register(app, accounts)
    async with browser(app) as http:
        await sign_in_staff(http, "nurse.malee")
        for token in ({}, {"csrf_token": "not the session's"}):
            forged = await http.post(PAGE, data={**token, "account": somsri.id,
                                                 "number": THAI_ID})
            assert forged.status_code == 400
            assert "The form expired" in forged.text
    assert not (await accounts.get(somsri.id)).verified  # type: ignore[union-attr]


async def test_checks_are_limited_per_address_like_sign_ins(settings: Settings) -> None:
    limited = create_app(replace(settings, rate_limit_per_minute=60))
    try:
        async with browser(limited) as http:
            statuses = [(await http.post(PAGE, data={"account": "x", "number": str(n)})
                         ).status_code for n in range(6)]
            assert statuses[:3] == [303] * 3
            assert statuses[-1] == 429
    finally:
        await limited.state.store.engine.dispose()
