"""Patients register themselves: details and an identity document, a one-time code by
e-mail (through a real SMTP server) or SMS (the outbox), then an account that sees
records only once a health centre has checked the document."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from email import message_from_bytes
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from starlette.applications import Starlette

from mor.api.app import create_app
from mor.auth.accounts import Accounts
from mor.config import Settings
from mor.db.schema import account
from tests.conftest import _free_port
from tests.web.browser import browser, hidden, sign_in

THAI_ID = "1101700203450"
PASSWORD = "ปลอดภัยมากพอ 2026"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


@pytest.fixture
async def mor_app(settings: Settings, smtp_server: tuple[int, Inbox], tmp_path: Path,
                  client: httpx.AsyncClient) -> AsyncIterator[Starlette]:
    port, _ = smtp_server
    app = create_app(replace(settings, smtp_host="127.0.0.1", smtp_port=port,
                             smtp_from="mor@bangkok.example", outbox_dir=tmp_path / "outbox"))
    async with app.state.store.engine.begin() as conn:
        await conn.execute(account.delete())
    yield app
    await app.state.store.engine.dispose()


def _form(page: str, **values: str) -> dict[str, str]:
    form = {"csrf_token": hidden(page, "csrf_token"), "given": "สมศรี", "family": "ใจดี",
            "birth_date": "1958-04-13", "contact": "somsri@example.com",
            "document_kind": "th-national-id", "document_number": THAI_ID,
            "document_country": "", "password": PASSWORD}
    form.update(values)
    return form


async def test_registering_by_e_mail_makes_an_unverified_account(
    mor_app: Starlette, smtp_server: tuple[int, Inbox], client: httpx.AsyncClient,
) -> None:
    _, inbox = smtp_server
    async with browser(mor_app, "th") as http:
        page = (await http.get("/register")).text
        assert "ลงทะเบียน" in page
        confirm = await http.post("/register", data=_form(page))
        assert confirm.status_code == 200, confirm.text
        assert len(inbox.messages) == 1
        mail = inbox.messages[0]
        assert mail["To"] == "somsri@example.com"
        body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
        assert "รหัส mor ของคุณคือ" in body  # in the language of the page
        code = re.search(r"\d{6}", body).group(0)  # type: ignore[union-attr]
        wrong = await http.post("/register/confirm", data={
            "csrf_token": hidden(confirm.text, "csrf_token"),
            "registration": hidden(confirm.text, "registration"), "code": "not it"})
        assert wrong.status_code == 400
        done = await http.post("/register/confirm", data={
            "csrf_token": hidden(confirm.text, "csrf_token"),
            "registration": hidden(confirm.text, "registration"), "code": code})
        assert done.status_code == 200, done.text
    accounts = Accounts(mor_app.state.store.engine)
    created = await accounts.find("somsri@example.com")
    assert created is not None and not created.verified
    patient = (await client.get(f"/{created.fhir_user}")).json()
    assert patient["identifier"][0]["value"] == THAI_ID
    assert patient["birthDate"] == "1958-04-13"
    assert patient["telecom"][0] == {"system": "email", "value": "somsri@example.com",
                                     "use": "home"}
    # Signed in, the account sees no record until a health centre checks the ID card.
    async with browser(mor_app) as http:
        assert (await sign_in(http, "somsri@example.com", PASSWORD)).status_code == 303


async def test_registering_by_phone_sends_an_sms_and_links_a_known_patient(
    mor_app: Starlette, client: httpx.AsyncClient, tmp_path: Path,
) -> None:
    known = {"resourceType": "Patient", "id": "known", "identifier": [{
        "system": "urn:mor:sid:th-national-id", "value": THAI_ID}]}
    await client.put("/Patient/known", json=known)
    async with browser(mor_app, "lo") as http:
        page = (await http.get("/register")).text
        confirm = await http.post("/register", data=_form(page, contact="+856 20 5555 1234"))
        assert confirm.status_code == 200, confirm.text
        sent = [json.loads(p.read_text()) for p in (tmp_path / "outbox").iterdir()]
        assert [(m["channel"], m["to"]) for m in sent] == [("sms", "+8562055551234")]
        assert (tmp_path / "outbox" / next((tmp_path / "outbox").iterdir()).name
                ).stat().st_mode & 0o077 == 0
        code = re.search(r"\d{6}", sent[0]["text"]).group(0)  # type: ignore[union-attr]
        await http.post("/register/confirm", data={
            "csrf_token": hidden(confirm.text, "csrf_token"),
            "registration": hidden(confirm.text, "registration"), "code": code})
    created = await Accounts(mor_app.state.store.engine).find("+8562055551234")
    assert created is not None and created.fhir_user == "Patient/known"


@pytest.mark.parametrize(("values", "reason"), [
    ({"document_number": "1101700203451"}, "13 digits"),
    ({"birth_date": "2999-01-01"}, "cannot be right"),
    ({"contact": "not a contact"}, "phone number"),
    ({"password": "short"}, "at least 10"),
    ({"document_kind": "passport", "document_number": "P123456"}, "issuing country"),
])
async def test_bad_details_are_refused_with_a_reason(
    mor_app: Starlette, values: dict[str, str], reason: str,
) -> None:
    async with browser(mor_app) as http:
        page = (await http.get("/register")).text
        refused = await http.post("/register", data=_form(page, **values))
        assert refused.status_code == 400
        assert reason in refused.text


async def test_registration_errors_are_shown_in_the_persons_language(
    mor_app: Starlette,
) -> None:
    async with browser(mor_app, "th") as http:
        page = (await http.get("/register")).text
        refused = await http.post("/register", data=_form(page, password="short"))
        assert "รหัสผ่านต้องมีอย่างน้อย 10 ตัวอักษร" in refused.text


async def test_a_code_cannot_be_guessed(mor_app: Starlette, tmp_path: Path) -> None:
    async with browser(mor_app) as http:
        page = (await http.get("/register")).text
        confirm = await http.post("/register", data=_form(page, contact="0812345678"))
        form = {"csrf_token": hidden(confirm.text, "csrf_token"),
                "registration": hidden(confirm.text, "registration")}
        for guess in range(5):
            await http.post("/register/confirm", data={**form, "code": f"{guess:06d}"})
        sent = json.loads(next((tmp_path / "outbox").iterdir()).read_text())
        code = re.search(r"\d{6}", sent["text"]).group(0)  # type: ignore[union-attr]
        late = await http.post("/register/confirm", data={**form, "code": code})
        assert late.status_code == 400
        assert "too many wrong codes" in late.text
    assert await Accounts(mor_app.state.store.engine).find("0812345678") is None


def test_the_smtp_password_never_shows(settings: Settings) -> None:
    secret = replace(settings, smtp_password="hunter2-smtp")
    assert "hunter2" not in repr(secret)



