"""Staff TOTP secrets are sealed in the database with a key kept beside it, not in it: a
copy of the database gives no second factors away, sign-in works as before, secrets
stored plain before sealing began still work (and get sealed), and a sealed secret moved
to another account's row does not open."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from mor.api.app import create_app
from mor.auth.accounts import Account, Accounts
from mor.auth.roles import Role
from mor.auth.sealed_secrets import (
    KEY_BYTES,
    NotUnsealed,
    SealedSecrets,
    SecretKeyError,
    load_or_create_key,
)
from mor.auth.totp import TotpSecrets
from mor.config import Settings
from mor.db.schema import account
from tests.web.browser import browser, hidden, sign_in

PASSWORD = "a long enough password"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "secret.key"


@pytest.fixture
async def sealing_app(settings: Settings, key_file: Path) -> AsyncIterator[Starlette]:
    app = create_app(replace(settings, secret_key_file=key_file))
    yield app
    await app.state.store.engine.dispose()


async def new_doctor(app: Starlette) -> Account:
    return await Accounts(app.state.store.engine).add(
        f"dr.{uuid.uuid4().hex[:8]}", PASSWORD, Role.DOCTOR,
        fhir_user="Practitioner/malee", organizations=("hc-1",))


async def enrol(app: Starlette, username: str) -> str:
    """The first sign-in, scanning the QR code; the secret the authenticator app got."""
    async with browser(app) as http:
        await sign_in(http, username, PASSWORD)
        page = (await http.get("/auth/totp")).text
        secret = hidden(page, "secret")
        done = await http.post("/auth/totp", data={
            "csrf_token": hidden(page, "csrf_token"), "secret": secret,
            "code": pyotp.TOTP(secret).now(), "next": "/auth/signed-in"})
        assert done.status_code == 303
    return secret


async def second_factor(app: Starlette, username: str, code: str) -> int:
    """The status of a later sign-in's TOTP step, given this code."""
    async with browser(app) as http:
        await sign_in(http, username, PASSWORD)
        page = (await http.get("/auth/totp")).text
        assert 'name="secret"' not in page
        answer = await http.post("/auth/totp", data={
            "csrf_token": hidden(page, "csrf_token"), "code": code,
            "next": "/auth/signed-in"})
        return answer.status_code


async def stored_secret(app: Starlette, account_id: str) -> str:
    async with app.state.store.engine.connect() as conn:
        value = (await conn.execute(select(account.c.totp_secret).where(
            account.c.id == account_id))).scalar_one()
    return str(value)


async def test_the_database_holds_no_plain_secret_and_sign_in_still_checks_the_code(
    sealing_app: Starlette, key_file: Path,
) -> None:
    doctor = await new_doctor(sealing_app)
    secret = await enrol(sealing_app, doctor.username)
    stored = await stored_secret(sealing_app, doctor.id)
    assert stored.startswith("v1:")
    assert secret not in stored and secret.lower() not in stored.lower()
    assert key_file.stat().st_size == KEY_BYTES
    assert await second_factor(sealing_app, doctor.username, pyotp.TOTP(secret).now()) == 303
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    assert await second_factor(sealing_app, doctor.username, wrong) == 401


async def test_a_secret_stored_plain_before_sealing_still_works_and_gets_sealed(
    sealing_app: Starlette,
) -> None:
    doctor = await new_doctor(sealing_app)
    legacy = pyotp.random_base32()
    async with sealing_app.state.store.engine.begin() as conn:
        await conn.execute(update(account).where(account.c.id == doctor.id)
                           .values(totp_secret=legacy))
    assert await second_factor(sealing_app, doctor.username, pyotp.TOTP(legacy).now()) == 303
    stored = await stored_secret(sealing_app, doctor.id)
    assert stored.startswith("v1:") and legacy not in stored
    assert await second_factor(sealing_app, doctor.username, pyotp.TOTP(legacy).now()) == 303


async def test_a_sealed_secret_copied_to_another_account_does_not_open(
    sealing_app: Starlette, key_file: Path,
) -> None:
    doctor, other = await new_doctor(sealing_app), await new_doctor(sealing_app)
    await enrol(sealing_app, doctor.username)
    async with sealing_app.state.store.engine.begin() as conn:
        await conn.execute(update(account).where(account.c.id == other.id).values(
            totp_secret=await stored_secret(sealing_app, doctor.id)))
    with pytest.raises(NotUnsealed):
        await TotpSecrets(sealing_app.state.store.engine, key_file).get(other.id)


def test_a_value_sealed_for_one_owner_opens_for_it_only_and_with_its_key_only() -> None:
    sealed = SealedSecrets(os.urandom(KEY_BYTES))
    value = sealed.seal("JBSWY3DPEHPK3PXP", "account-1")
    assert sealed.unseal(value, "account-1") == "JBSWY3DPEHPK3PXP"
    assert sealed.seal("JBSWY3DPEHPK3PXP", "account-1") != value  # a fresh nonce each time
    with pytest.raises(NotUnsealed):
        sealed.unseal(value, "account-2")
    with pytest.raises(NotUnsealed):
        SealedSecrets(os.urandom(KEY_BYTES)).unseal(value, "account-1")
    with pytest.raises(NotUnsealed):
        sealed.unseal(value[:-4], "account-1")


def test_the_key_file_is_made_once_readable_by_its_owner_only(key_file: Path) -> None:
    key = load_or_create_key(key_file)
    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_key(key_file) == key
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.key"]


def test_a_key_file_of_the_wrong_size_is_refused_saying_why(key_file: Path) -> None:
    key_file.parent.mkdir(parents=True)
    key_file.write_bytes(b"not a key\n")
    with pytest.raises(SecretKeyError, match=r"holds 10 bytes, not the 32.*Restore it"):
        load_or_create_key(key_file)
