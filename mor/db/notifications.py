"""PostgreSQL's LISTEN and NOTIFY: short messages between the server processes of one
database, delivered to each process listening at the moment they are sent."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

Heard = Callable[[str], None]


class Listener:
    """One connection of the pool, held while listening on a channel."""

    def __init__(self, engine: AsyncEngine, channel: str, heard: Heard) -> None:
        self._engine = engine
        self._channel = channel
        self._heard = heard
        self._connection: AsyncConnection | None = None
        self._driver: Any = None

    def _callback(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._heard(payload)

    async def start(self) -> None:
        self._connection = await self._engine.connect()
        raw = await self._connection.get_raw_connection()
        self._driver = raw.driver_connection
        await self._driver.add_listener(self._channel, self._callback)

    async def stop(self) -> None:
        if self._connection is None:
            return
        with contextlib.suppress(Exception):
            await self._driver.remove_listener(self._channel, self._callback)
        await self._connection.close()
        self._connection = None


async def notify(engine: AsyncEngine, channel: str, payload: str) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                           {"channel": channel, "payload": payload})
        await conn.commit()
