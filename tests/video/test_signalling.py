"""Signalling between the browsers of a consult: what one peer sends reaches the others
of its room, and only them; on PostgreSQL also when they are connected to different
server processes (two relays on one database stand for two processes here)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mor.config import Settings
from mor.db.engine import create_engine
from mor.services.video.signalling import (
    LocalRelay,
    MessageTooLarge,
    Peer,
    PostgresRelay,
    Relay,
    relay_for,
)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def deliver(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.arrived.set()

    async def next(self, kind: str) -> dict[str, Any]:
        """The first message of this type, waiting up to 5 s for it."""
        async with asyncio.timeout(5):
            while True:
                for message in self.messages:
                    if message["type"] == kind:
                        self.messages.remove(message)
                        return message
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    made = create_engine(settings)
    yield made
    await made.dispose()


@pytest.fixture
async def relays(engine: AsyncEngine) -> AsyncIterator[tuple[Relay, Relay]]:
    """Two relays: of two processes on PostgreSQL; on SQLite (one process), one twice."""
    if engine.dialect.name == "postgresql":
        first: Relay = PostgresRelay(engine)
        second: Relay = PostgresRelay(engine)
    else:
        first = second = LocalRelay()
    for relay in {id(first): first, id(second): second}.values():
        await relay.start()
    yield first, second
    for relay in {id(first): first, id(second): second}.values():
        await relay.stop()


async def test_the_deployment_gets_the_relay_its_database_needs(engine: AsyncEngine) -> None:
    expected = PostgresRelay if engine.dialect.name == "postgresql" else LocalRelay
    assert type(relay_for(engine)) is expected


async def test_a_message_reaches_the_other_peer_of_the_room_and_no_one_else(
        relays: tuple[Relay, Relay]) -> None:
    here, there = relays
    patient, clinician, elsewhere = Inbox(), Inbox(), Inbox()
    await here.join("consult:1", Peer("p", "patient", patient.deliver))
    await there.join("consult:2", Peer("x", "patient", elsewhere.deliver))
    await there.join("consult:1", Peer("c", "clinician", clinician.deliver))
    # Who joined is told to who was there, with their role.
    assert (await patient.next("peer-joined"))["role"] == "clinician"

    offer = {"type": "description", "description": {"type": "offer", "sdp": "v=0 ..."}}
    await there.send("consult:1", offer, sender="c")
    got = await patient.next("description")
    assert got == offer | {"from": "c"}
    await here.send("consult:1", {"type": "candidate", "candidate": {"candidate": "a"}},
                    sender="p", to="c")
    assert (await clinician.next("candidate"))["from"] == "p"

    await asyncio.sleep(0.2)  # time for anything misdirected to arrive
    assert not [m for m in clinician.messages if m["type"] == "description"], \
        "the sender got its own message back"
    assert not elsewhere.messages, "a peer of another room got the room's messages"

    await there.leave("consult:1", "c")
    assert (await patient.next("peer-left"))["peer"] == "c"


async def test_a_message_for_one_peer_goes_to_that_peer_only(
        relays: tuple[Relay, Relay]) -> None:
    here, there = relays
    first, second, sender = Inbox(), Inbox(), Inbox()
    await here.join("consult:3", Peer("a", "clinician", first.deliver))
    await there.join("consult:3", Peer("b", "clinician", second.deliver))
    await here.join("consult:3", Peer("s", "patient", sender.deliver))
    await here.send("consult:3", {"type": "restart"}, sender="s", to="b")
    assert (await second.next("restart"))["from"] == "s"
    await asyncio.sleep(0.2)
    assert not [m for m in first.messages if m["type"] == "restart"]


async def test_a_message_too_big_to_pass_between_processes_is_refused(
        relays: tuple[Relay, Relay]) -> None:
    here, _ = relays
    noise = os.urandom(10_000).hex()  # 20 KB that compresses to no less than half
    message = {"type": "description", "sdp": noise}
    if isinstance(here, PostgresRelay):
        with pytest.raises(MessageTooLarge):
            await here.send("consult:4", message, sender="p")
        return
    # One process (SQLite): nothing passes between processes, so there is no such limit.
    inbox = Inbox()
    await here.join("consult:4", Peer("c", "clinician", inbox.deliver))
    await here.send("consult:4", message, sender="p")
    assert (await inbox.next("description"))["sdp"] == noise


class SlowFirstInbox(Inbox):
    """A phone whose socket takes longer over the first offer than over the rest."""

    async def deliver(self, message: dict[str, Any]) -> None:
        if message.get("offer") == 1:
            await asyncio.sleep(0.05)
        await super().deliver(message)


async def test_messages_reach_a_slow_socket_in_the_order_they_were_sent(
        relays: tuple[Relay, Relay]) -> None:
    here, there = relays
    patient = SlowFirstInbox()
    await there.join("consult:order", Peer("p", "patient", patient.deliver))
    await here.join("consult:order", Peer("c", "clinician", Inbox().deliver))
    for number in range(1, 6):
        await here.send("consult:order", {"type": "description", "offer": number},
                        sender="c")
    async with asyncio.timeout(5):
        while len([m for m in patient.messages if m["type"] == "description"]) < 5:
            await asyncio.sleep(0.01)
    offers = [m["offer"] for m in patient.messages if m["type"] == "description"]
    assert offers == [1, 2, 3, 4, 5]
