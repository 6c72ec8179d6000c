"""Racing requests over real HTTP: one winner, no duplicates, no lost update."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import auth_headers

SYSTEM = "https://bora.dopa.go.th/citizen-id"


async def test_racing_conditional_creates_make_one_resource(
    client: httpx.AsyncClient, live_server: str
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=30,
                                 headers=auth_headers(client)) as http:
        for round_number in range(5):
            citizen_id = f"race-{round_number}"
            body = {"resourceType": "Patient",
                    "identifier": [{"system": SYSTEM, "value": citizen_id}]}
            responses = await asyncio.gather(*[
                http.post("/Patient", json=body,
                          headers={"If-None-Exist": f"identifier={SYSTEM}|{citizen_id}"})
                for _ in range(8)
            ])
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [200] * 7 + [201]
            assert len({r.json()["id"] for r in responses}) == 1
            found = (await http.get("/Patient", params={"identifier": f"{SYSTEM}|{citizen_id}"}
                                    )).json()
            assert len(found["entry"]) == 1


async def test_racing_updates_with_the_same_if_match_one_wins(
    client: httpx.AsyncClient, live_server: str
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=30,
                                 headers=auth_headers(client)) as http:
        await http.put("/Patient/contested", json={"resourceType": "Patient", "id": "contested"})
        for round_number in range(5):
            current = (await http.get("/Patient/contested")).json()
            version = current["meta"]["versionId"]
            responses = await asyncio.gather(*[
                http.put("/Patient/contested",
                         json={"resourceType": "Patient", "id": "contested",
                               "name": [{"text": f"writer {writer} round {round_number}"}]},
                         headers={"If-Match": f'W/"{version}"'})
                for writer in range(2)
            ])
            assert sorted(r.status_code for r in responses) == [200, 412]
            history = (await http.get("/Patient/contested/_history")).json()
            assert len(history["entry"]) == round_number + 2


async def test_racing_updates_without_if_match_lose_no_version(
    client: httpx.AsyncClient, live_server: str
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=30,
                                 headers=auth_headers(client)) as http:
        responses = await asyncio.gather(*[
            http.put("/Patient/busy", json={"resourceType": "Patient", "id": "busy",
                                            "name": [{"text": f"writer {writer}"}]})
            for writer in range(10)
        ])
        assert all(r.status_code in (200, 201) for r in responses)
        versions = sorted(int(r.json()["meta"]["versionId"]) for r in responses)
        assert versions == list(range(1, 11))
