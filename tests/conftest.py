"""Fixtures shared by the whole suite.

Every test that takes ``database_url`` (directly or through ``client``) runs
twice: on an SQLite file and on PostgreSQL. PostgreSQL comes from
MOR_TEST_POSTGRES_URL (default: the server at 127.0.0.1:5432, database
``test``); the suite creates a database of its own there and drops it at the
end, so it never touches existing data.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette

from mor.api.app import create_app
from mor.auth.clients import Clients
from mor.auth.tokens import Tokens
from mor.config import Settings
from mor.db.engine import async_database_url, create_engine
from mor.db.migrate import upgrade
from mor.db.schema import metadata

POSTGRES_URL = os.environ.get("MOR_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(async_database_url(url), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'mor.db'}"
        upgrade(url)
        yield url
        return
    name = f"mor_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # No rate limit: the suite is one client sending thousands of requests.
    return Settings(database_url=database_url, max_body_bytes=64 * 1024 * 1024,
                    export_dir=tmp_path_factory.mktemp("exports"), rate_limit_per_minute=0,
                    secret_key_file=tmp_path_factory.mktemp("keys") / "secret.key",
                    outbox_dir=tmp_path_factory.mktemp("outbox"))


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    yield application
    # Close pooled connections while the event loop still runs.
    await application.state.store.engine.dispose()


# Accounts, registered apps and tokens: not part of the FHIR store.
ACCESS_TABLES = frozenset({"account", "oauth_client", "oauth_token", "oauth_assertion",
                           "login_session", "oauth_code", "registration",
                           "break_glass"})


async def empty_database(app: Starlette) -> None:
    engine = app.state.store.engine
    # Accounts and tokens stay: a session's tokens (live_headers) outlive each test.
    tables = [table.name for table in reversed(metadata.sorted_tables)
              if table.name not in ACCESS_TABLES]
    # A live server of an earlier test may still be writing (its home-readings watcher):
    # PostgreSQL then ends one side of the deadlock, and emptying again succeeds.
    for attempt in range(5):
        try:
            async with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY"))
                else:
                    for table in tables:
                        await conn.execute(text(f"DELETE FROM {table}"))
            return
        except DBAPIError as error:
            if attempt == 4 or "deadlock" not in str(error):
                raise


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to mor in-process, on an empty database, as a backend
    service allowed everything (``system/*.cruds``)."""
    await empty_database(app)
    token = await backend_token(app.state.store.engine, "system/*.cruds")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mor.test/fhir",
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


def without_audit(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """A Bundle's entries other than the AuditEvents that record the test's own requests."""
    return [e for e in bundle.get("entry", [])
            if e.get("resource", {}).get("resourceType") != "AuditEvent"
            and e.get("fullUrl", "").rsplit("/", 2)[-2:-1] != ["AuditEvent"]]


def auth_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """The credentials of ``client``, for another HTTP client on the same database."""
    return {"Authorization": client.headers["authorization"]}


async def backend_token(engine: AsyncEngine, scope: str) -> str:
    """An access token of a freshly registered backend service with these scopes."""
    registered = await Clients(engine).add(
        f"test service {uuid.uuid4().hex[:6]}", scope=scope,
        jwks={"keys": [ECKey.generate_key("P-384").as_dict(private=False)]})
    answer = await Tokens(engine).issue(client_id=registered.client.client_id,
                                        account_id=None, scope=registered.client.scope)
    return str(answer["access_token"])


async def table_row_counts(client: httpx.AsyncClient) -> dict[str, int]:
    """Rows in each table of the store behind an in-process client, leaving out empty ones,
    those of accounts and tokens, and those of the AuditEvents recording the requests."""
    engine = client.app.state.store.engine  # type: ignore[attr-defined]
    counts = {}
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in ACCESS_TABLES:
                continue
            where = (" WHERE resource_type <> 'AuditEvent'" if "resource_type" in table.c
                     else "")
            count = (await conn.execute(
                text(f"SELECT count(*) FROM {table.name}{where}"))).scalar_one()
            if count:
                counts[table.name] = int(count)
    return counts


@pytest.fixture
def backend(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


@pytest.fixture(scope="session")
def live_headers(settings: Settings) -> dict[str, str]:
    """Credentials of a backend service allowed everything, for talking to live_server."""
    async def register() -> str:
        engine = create_engine(settings)
        try:
            return await backend_token(engine, "system/*.cruds")
        finally:
            await engine.dispose()

    return {"Authorization": f"Bearer {asyncio.run(register())}"}


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[str]:
    """mor running in a real uvicorn process on this database; yields its FHIR base URL."""
    with running_mor(settings) as base:
        yield base


@contextmanager
def running_mor(settings: Settings, *, inside: Callable[..., list[str]] | None = None,
                environment: dict[str, str] | None = None, host: str = "127.0.0.1"
                ) -> Iterator[str]:
    """A uvicorn process serving mor on the settings' database, until the block ends;
    several at once are the processes of one city's deployment. ``inside`` makes the
    command line that runs it elsewhere, e.g. in a network namespace of the test's
    (NetworkNamespace.command), listening on ``host``; ``environment`` adds settings
    (MOR_ICE_URLS, ...)."""
    port = _free_port()
    env = {**os.environ, "MOR_DATABASE_URL": settings.database_url,
           "MOR_EXPORT_DIR": str(settings.export_dir), "MOR_RATE_LIMIT": "0",
           "MOR_SECRET_KEY_FILE": str(settings.secret_key_file),
           "MOR_OUTBOX_DIR": str(settings.outbox_dir), **(environment or {})}
    wrap = inside or (lambda *arguments: list(arguments))
    process = subprocess.Popen(
        wrap(sys.executable, "-m", "uvicorn", "mor.api.app:create_app", "--factory",
             "--host", host, "--port", str(port), "--log-level", "warning"),
        env=env,
    )
    base = f"http://{host}:{port}/fhir"
    try:
        # Asked from where the server runs: a namespace's loopback is not this one's.
        probe = subprocess.run(wrap(sys.executable, "-c", _READY, f"{base}/metadata"),
                               check=False, timeout=40)
        if probe.returncode != 0 or process.poll() is not None:
            raise RuntimeError("mor did not start for the live-server tests")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


# Waits up to 30 s for the URL to answer 200; exits 1 if it never does.
_READY = """
import sys, time, httpx
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        if httpx.get(sys.argv[1], timeout=1).status_code == 200:
            sys.exit(0)
    except httpx.TransportError:
        pass
    time.sleep(0.1)
sys.exit(1)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def examples_dir() -> Path | None:
    """The unpacked hl7.fhir.r4.examples package, if the test command fetched it."""
    value = os.environ.get("MOR_FHIR_EXAMPLES_DIR")
    return Path(value) if value else None
