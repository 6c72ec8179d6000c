"""Relaying a call's signalling between the browsers in it.

WebRTC browsers send their media to each other (through TURN where networks need it);
what passes through mor is only the set-up: session descriptions, ICE candidates, and
the call's events (someone joined or left, the patient was admitted, a chat message
arrived, a side fell back to audio). Each consult is a room; a message from one peer goes
to every other peer of its room, or to one of them.

A city deployment runs several server processes, and the patient and the clinician may
reach different ones: on PostgreSQL the processes pass messages to each other with
``NOTIFY`` on one channel, each process delivering to the peers connected to it. The
embedded SQLite deployment is one process, and relays in memory.

Nothing is kept: a message for a room with nobody else in it is dropped, and a peer that
reconnects asks for a fresh start (the clinician's browser makes a new offer).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from mor.db.notifications import Listener, notify

_log = logging.getLogger(__name__)

CHANNEL: Final = "mor_signal"
# PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; a session description with
# all of a browser's codecs is 5-8 KB of text, about a third of that compressed.
_MAX_NOTIFY_BYTES: Final = 7_900

Deliver = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class Peer:
    id: str
    role: str  # "patient" or "clinician"
    deliver: Deliver
    # Each delivery is a task of its own; the lock keeps them in the order sent (an
    # answer overtaking its offer's candidates is harmless, two offers swapped are not).
    in_order: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(slots=True)
class _Room:
    peers: dict[str, Peer] = field(default_factory=dict)


class MessageTooLarge(ValueError):
    """A signalling message bigger than any a browser needs."""


class Relay(Protocol):
    async def join(self, room: str, peer: Peer) -> None: ...
    async def leave(self, room: str, peer_id: str) -> None: ...
    async def send(self, room: str, message: dict[str, Any], *, sender: str | None = None,
                   to: str | None = None) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class LocalRelay:
    """Rooms of the peers connected to this process."""

    def __init__(self) -> None:
        self._rooms: dict[str, _Room] = {}
        # Deliveries under way, held so that none is collected before it is done.
        self._deliveries: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._rooms.clear()

    async def join(self, room: str, peer: Peer) -> None:
        self._rooms.setdefault(room, _Room()).peers[peer.id] = peer
        await self.send(room, {"type": "peer-joined", "peer": peer.id, "role": peer.role},
                        sender=peer.id)

    async def leave(self, room: str, peer_id: str) -> None:
        found = self._rooms.get(room)
        if found is None or found.peers.pop(peer_id, None) is None:
            return
        if not found.peers:
            del self._rooms[room]
        await self.send(room, {"type": "peer-left", "peer": peer_id}, sender=peer_id)

    async def send(self, room: str, message: dict[str, Any], *, sender: str | None = None,
                   to: str | None = None) -> None:
        self.deliver_here(room, message, sender=sender, to=to)

    def deliver_here(self, room: str, message: dict[str, Any], *, sender: str | None,
                     to: str | None) -> None:
        found = self._rooms.get(room)
        if found is None:
            return
        outgoing = message | ({"from": sender} if sender else {})
        for peer in list(found.peers.values()):
            if peer.id != sender and (to is None or peer.id == to):
                # Each peer's socket is written by its own task, so a slow phone never
                # holds up the others.
                task = asyncio.get_running_loop().create_task(_deliver(peer, outgoing))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)


async def _deliver(peer: Peer, message: dict[str, Any]) -> None:
    try:
        async with peer.in_order:
            await peer.deliver(message)
    except Exception:  # a closed socket: its own handler is leaving the room
        _log.debug("could not deliver a signalling message to peer %s", peer.id)


class PostgresRelay(LocalRelay):
    """Rooms across the server processes of one PostgreSQL database."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self._engine = engine
        self._process = uuid.uuid4().hex
        self._listener = Listener(engine, CHANNEL, self._heard)

    async def start(self) -> None:
        await self._listener.start()

    async def stop(self) -> None:
        await super().stop()
        await self._listener.stop()

    async def send(self, room: str, message: dict[str, Any], *, sender: str | None = None,
                   to: str | None = None) -> None:
        envelope = orjson.dumps({"room": room, "message": message, "sender": sender,
                                 "to": to, "process": self._process})
        payload = base64.b64encode(zlib.compress(envelope, 6)).decode()
        if len(payload) > _MAX_NOTIFY_BYTES:
            raise MessageTooLarge(f"a signalling message of {len(envelope)} bytes")
        # Delivered here at once; the other processes hear it through NOTIFY.
        self.deliver_here(room, message, sender=sender, to=to)
        await notify(self._engine, CHANNEL, payload)

    def _heard(self, payload: str) -> None:
        try:
            envelope = orjson.loads(zlib.decompress(base64.b64decode(payload)))
        except (ValueError, zlib.error):
            _log.warning("ignored a signalling notification that is not mor's")
            return
        if envelope.get("process") == self._process:
            return
        self.deliver_here(envelope["room"], envelope["message"], sender=envelope["sender"],
                          to=envelope["to"])


def relay_for(engine: AsyncEngine) -> Relay:
    """The relay a deployment needs: across processes on PostgreSQL, in memory on
    SQLite (one process)."""
    if engine.dialect.name == "postgresql":
        return PostgresRelay(engine)
    return LocalRelay()
