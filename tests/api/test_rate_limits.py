"""A client that sends too many requests too fast is told to wait (429 with Retry-After),
while other clients go on; sign-in forms are limited more tightly, per address."""

from __future__ import annotations

from dataclasses import replace

import httpx

from mor.api.app import create_app
from mor.config import Settings
from tests.conftest import auth_headers


async def test_a_flood_is_slowed_and_others_go_on(
    client: httpx.AsyncClient, settings: Settings,
) -> None:
    limited = create_app(replace(settings, rate_limit_per_minute=60))  # bursts of 10
    transport = httpx.ASGITransport(app=limited)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://mor.test/fhir",
                                     headers=auth_headers(client)) as flood:
            statuses = [(await flood.get("/Patient")).status_code for _ in range(12)]
            assert statuses[:10] == [200] * 10
            refused = await flood.get("/Patient")
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["issue"][0]["code"] == "throttled"
        async with httpx.AsyncClient(transport=transport,
                                     base_url="http://mor.test/fhir") as other:
            assert (await other.get("/metadata")).status_code == 200
    finally:
        await limited.state.store.engine.dispose()


async def test_sign_in_attempts_are_limited_per_address(settings: Settings) -> None:
    limited = create_app(replace(settings, rate_limit_per_minute=60))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited),
                                     base_url="https://mor.test") as http:
            statuses = [(await http.post("/auth/login", data={"username": f"user{n}",
                                                               "password": "guess"})
                         ).status_code for n in range(6)]
            assert statuses[:3] == [400] * 3  # no CSRF token: refused, but counted
            assert statuses[-1] == 429
    finally:
        await limited.state.store.engine.dispose()
