"""Signing in: right passwords work, wrong ones lock the account after a few tries, and
a burst of parallel guesses gets no more tries than a slow one."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update
from starlette.applications import Starlette

from mor.auth.accounts import MAX_FAILED_SIGN_INS, Accounts, SignInRefused
from mor.auth.roles import Role
from mor.db.schema import account
from mor.fhir.timestamps import now_micros
from tests.conftest import empty_database

PASSWORD = "ปลอดภัย-ສະບາຍດີ-2026"


@pytest.fixture
async def accounts(app: Starlette) -> Accounts:
    await empty_database(app)
    engine = app.state.store.engine
    async with engine.begin() as conn:
        await conn.execute(account.delete())
    accounts = Accounts(engine)
    await accounts.add("nurse.kanya", PASSWORD, Role.NURSE,
                       fhir_user="Practitioner/kanya", organizations=("hc-1",))
    return accounts


async def test_the_right_password_signs_in_and_the_name_ignores_case(
    accounts: Accounts,
) -> None:
    signed_in = await accounts.sign_in("Nurse.Kanya", PASSWORD)
    assert signed_in.role is Role.NURSE
    assert signed_in.organizations == ("hc-1",)
    with pytest.raises(SignInRefused):
        await accounts.sign_in("nurse.kanya", PASSWORD + "!")
    with pytest.raises(SignInRefused):
        await accounts.sign_in("nobody", PASSWORD)


async def test_parallel_guesses_get_no_more_tries_than_slow_ones(accounts: Accounts) -> None:
    async def guess(number: int) -> bool:
        try:
            await accounts.sign_in("nurse.kanya", f"wrong guess {number}")
        except SignInRefused:
            return False
        return True

    assert not any(await asyncio.gather(*(guess(n) for n in range(20))))
    # Locked: even the right password is refused now.
    with pytest.raises(SignInRefused, match="locked"):
        await accounts.sign_in("nurse.kanya", PASSWORD)
    async with accounts.engine.connect() as conn:
        failed = (await conn.execute(account.select())).first()
    assert failed is not None and failed.failed_logins == MAX_FAILED_SIGN_INS
    # When the lock has run out, the right password works and the count starts again.
    async with accounts.engine.begin() as conn:
        await conn.execute(update(account).values(locked_until=1))
    assert (await accounts.sign_in("nurse.kanya", PASSWORD)).username == "nurse.kanya"


async def test_a_disabled_account_cannot_sign_in(accounts: Accounts) -> None:
    await accounts.set_disabled("nurse.kanya", True)
    with pytest.raises(SignInRefused):
        await accounts.sign_in("nurse.kanya", PASSWORD)


async def test_each_lock_lasts_twice_as_long_as_the_one_before(accounts: Accounts) -> None:
    async def lock_minutes() -> float:
        for number in range(MAX_FAILED_SIGN_INS):
            with pytest.raises(SignInRefused):
                await accounts.sign_in("nurse.kanya", f"wrong {number}")
        async with accounts.engine.connect() as conn:
            row = (await conn.execute(account.select())).first()
        assert row is not None and row.locked_until is not None
        return (row.locked_until - now_micros()) / 60e6

    async def let_the_lock_run_out() -> None:
        async with accounts.engine.begin() as conn:
            await conn.execute(update(account).values(locked_until=1))

    assert 14 < await lock_minutes() <= 15
    await let_the_lock_run_out()
    assert 29 < await lock_minutes() <= 30
    await let_the_lock_run_out()
    assert 59 < await lock_minutes() <= 60
    # The right password ends the back-off.
    await let_the_lock_run_out()
    await accounts.sign_in("nurse.kanya", PASSWORD)
    assert 14 < await lock_minutes() <= 15
