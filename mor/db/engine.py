"""Opening the database: one async engine for SQLite or PostgreSQL.

SQLite gets WAL mode and explicit transactions: readers use a plain ``BEGIN``
while writers use ``BEGIN IMMEDIATE`` so that two writers queue for the write
lock up front instead of failing with "database is locked" half-way through.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mor.config import ConfigError, Settings

# Execution option that marks a connection as one that will write.
WRITE_OPTION = "mor_write"


def async_database_url(url: str) -> str:
    """Map a user-facing database URL to the async driver mor uses."""
    if url.startswith("sqlite+aiosqlite:") or url.startswith("postgresql+asyncpg:"):
        return url
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url[len("sqlite:"):]
    for prefix in ("postgresql:", "postgres:", "postgresql+psycopg:", "postgresql+psycopg2:"):
        if url.startswith(prefix):
            return "postgresql+asyncpg:" + url[len(prefix):]
    raise ConfigError(
        f"MOR_DATABASE_URL {make_url(url).render_as_string(hide_password=True)!r} is not "
        "supported: use sqlite:///path/to/file.db or postgresql://user@host:port/database"
    )


def create_engine(settings: Settings) -> AsyncEngine:
    url = async_database_url(settings.database_url)
    if url.startswith("sqlite"):
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Pooled, since aiosqlite starts a thread per connection; and few, since those
        # threads contend for the interpreter and SQLite has one writer at a time anyway.
        engine = create_async_engine(url, pool_size=min(settings.db_pool_size, 4),
                                     max_overflow=0, pool_reset_on_return=None)
        _configure_sqlite(engine)
        return engine
    # No overflow: connections opened for a burst and closed after it cost more
    # (TCP, TLS negotiation, authentication) than waiting for a pooled one.
    # Custom plans only: after five runs of a prepared search PostgreSQL may switch to a
    # generic plan made without the values, and for a date range or a code that matches
    # half the table such a plan is many times slower than planning afresh (~1 ms).
    return create_async_engine(
        url, pool_size=settings.db_pool_size, max_overflow=0,
        connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}})


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let mor issue BEGIN itself, so writers can take the lock at once.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # LIKE compares as PostgreSQL's does (searched values are already case-folded
        # where search ignores case), and so can use an index for a prefix.
        cursor.execute("PRAGMA case_sensitive_like=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # a read of one statement needs no transaction (or its two round trips)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN")
