"""Expired tokens, codes, sessions, assertion ids, unfinished registrations (with the
person's details) and long-ended break-glass grants are cleared away; what is still
valid stays and keeps working."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select, update
from starlette.applications import Starlette

from mor.auth.expired_records import purge_expired
from mor.auth.roles import Role
from mor.auth.tokens import token_hash
from mor.db.schema import break_glass, oauth_assertion, oauth_token, registration
from mor.fhir.timestamps import now_micros
from tests.auth.people import bearer, person_token

DAY = 24 * 3600 * 1_000_000


async def test_expired_records_go_and_valid_ones_stay(app: Starlette,
                                                      client: httpx.AsyncClient) -> None:
    engine = app.state.store.engine
    now = now_micros()
    token = await person_token(engine, "nurse.expiry", Role.NURSE, "Practitioner/n-exp")
    async with engine.begin() as conn:
        await conn.execute(oauth_assertion.insert(), [
            {"client_id": "c-exp", "jti": "old", "expires": now - DAY},
            {"client_id": "c-exp", "jti": "new", "expires": now + 300_000_000}])
        await conn.execute(registration.insert(), [
            {"id": f"reg-{which}", "details": '{"family": "Jaidee"}', "password_hash": "x",
             "code_hash": "y", "attempts": 0, "expires": expires}
            for which, expires in (("old", now - DAY), ("new", now + DAY))])
        await conn.execute(break_glass.insert(), [
            {"id": f"btg-{which}", "account_id": "a-exp", "patient_id": "p", "reason": "r",
             "started": expires - 3600_000_000, "expires": expires}
            for which, expires in (("ancient", now - 100 * DAY), ("recent", now - DAY))])
    removed = await purge_expired(engine)
    assert removed["oauth_assertion"] >= 1 and removed["registration"] >= 1
    async with engine.connect() as conn:
        jtis = set((await conn.scalars(select(oauth_assertion.c.jti).where(
            oauth_assertion.c.client_id == "c-exp"))).all())
        registrations = set((await conn.scalars(select(registration.c.id).where(
            registration.c.id.like("reg-%")))).all())
        grants = set((await conn.scalars(select(break_glass.c.id).where(
            break_glass.c.account_id == "a-exp"))).all())
    assert jtis == {"new"}
    assert registrations == {"reg-new"}
    assert grants == {"btg-recent"}  # kept 90 days for whoever reviews the emergency
    # The nurse's token is still valid, and still works.
    response = await client.get("/Patient", headers=bearer(token))
    assert response.status_code == 200


async def test_a_token_is_cleared_once_it_has_expired(app: Starlette,
                                                      client: httpx.AsyncClient) -> None:
    engine = app.state.store.engine
    token = await person_token(engine, "nurse.later", Role.NURSE, "Practitioner/n-later")
    mine = oauth_token.c.token_hash == token_hash(token)
    # As if its hour had ended two hours ago (other tests' tokens must not be touched).
    async with engine.begin() as conn:
        await conn.execute(update(oauth_token).where(mine)
                           .values(expires=now_micros() - 2 * 3600 * 1_000_000))
    assert (await client.get("/Patient", headers=bearer(token))).status_code == 401
    await purge_expired(engine)
    async with engine.connect() as conn:
        left = (await conn.execute(select(func.count()).select_from(oauth_token)
                                   .where(mine))).scalar_one()
    assert left == 0
