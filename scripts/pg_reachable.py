"""Exit 0 if a PostgreSQL server answers at the URL given, else 1 (used by scripts/test)."""

from __future__ import annotations

import asyncio
import sys

import asyncpg  # type: ignore[import-untyped]


async def _reachable(url: str) -> bool:
    try:
        connection = await asyncpg.connect(url, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(_reachable(sys.argv[1])) else 1)
