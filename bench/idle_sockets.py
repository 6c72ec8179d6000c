"""Benchmark: how many idle signalling WebSockets one mor process holds, and what each
costs in memory.

One mor process under uvicorn (as ``mor serve`` runs it, one worker), on a fresh SQLite
file and on a fresh PostgreSQL database. Its people are made in-process first, through
mor's own services: patients registered with ten health centres, each waiting in the
centre's walk-in video queue on a consult of their own, and doctors each in a call with
one more patient (``consults.walk_in``, then ``consults.admit``). The waiting patients'
Encounters are written in bulk as ``walk_in`` writes them; one password hash serves all
the patients (Argon2id at 64 MiB each would take minutes); each person gets a session
(``Sessions.open``, what signing in opens; the doctors' complete, as after their TOTP
code). Then every one of them opens ``/video/{encounter}/signal`` from this process
(asyncio, the ``websockets`` package, offering per-message deflate as Chromium does)
through the real server, with their own session cookie and the page's Origin, as
video.js does; a socket counts as open once mor's "welcome" came.

They are opened in batches (250 at once), then held idle (30 s, past uvicorn's 20 s
keepalive ping) and checked every 5 s; at the end one doctor sends a session
description to their patient, which must arrive. Measured: the server's RSS (VmRSS of
the process and any children) before any socket and with all open, so KiB per
connection; the time and CPU to open them; those that failed and why; the server's CPU
while idle; its file descriptors and (PostgreSQL) database connections while idle.
The open-files limit of this process is raised to its hard limit first, and the server
inherits it.

    .venv/bin/python bench/idle_sockets.py [--backends sqlite,postgresql]
        [--connections 5000] [--in-call 100] [--batch 250] [--idle 30] [--no-deflate]
        [--poll SECONDS] [--record]

With ``--poll``, the sockets still open, each waiting patient's page then also asks for
its place in the queue (GET …/state) as often as video.js does, for that long.

Target (issue 6): one process holds ≥ 5,000 idle waiting-room and signalling
WebSockets on this machine; memory per connection reported.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import orjson
import uvicorn
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.protocol import State
from websockets.typing import Origin
from websockets.version import version as websockets_version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fhir_crud import ROOT, _commit, _database, _machine, publish
from video_call import start_server  # uvicorn as 'mor serve' runs it, rate limit off

from mor.auth.accounts import Account, Accounts
from mor.auth.callers import person_caller
from mor.auth.passwords import hash_secret
from mor.auth.roles import Role
from mor.auth.sessions import Sessions
from mor.config import Settings
from mor.db.engine import create_engine
from mor.db.migrate import upgrade
from mor.fhir.store import Store, StoredResource
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.centres import Centre, CentreDetails, OpeningHours, save_centre
from mor.services.scheduling.codes import DAYS_OF_WEEK
from mor.services.staff import add_account
from mor.services.video import consults
from mor.web.signin import SESSION_COOKIE

PASSWORD = "a benchmark password"
CENTRES = 10
# Writers at once while building: SQLite has one anyway, PostgreSQL's pool is 20.
BUILD_CONCURRENCY = 8
CHECK_EVERY = 5.0
# The waiting room's page asks for its place in the queue this often (video.js).
POLL_EVERY = int(re.search(r"const QUEUE_POLL_MS = ([\d_]+);", (  # type: ignore[union-attr]
    ROOT / "mor" / "web" / "static" / "video.js").read_text()).group(1)) / 1000
POLL_GRACE = 5.0
POLL_CONNECTIONS = 64
# What Chromium offers (uvicorn answers with 12-bit windows, memLevel 5).
BROWSER_DEFLATE = ClientPerMessageDeflateFactory(client_max_window_bits=True)
DESCRIPTION = {"type": "description",
               "description": {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 400}}


@dataclass(frozen=True, slots=True)
class Person:
    kind: str  # "waiting", "patient in call", "clinician in call"
    encounter_id: str
    cookie: str  # the session token


@dataclass
class Opened:
    person: Person
    socket: ClientConnection
    peer_id: str


@dataclass
class Figures:
    backend: str
    asked: int
    kinds: collections.Counter[str]
    build_seconds: float
    server_nofile: str
    rss_before_kib: int
    rss_open_kib: int = 0
    kernel_tcp_kib: tuple[int, int] = (0, 0)  # before, all open
    rss_idle_end_kib: int = 0
    rss_closed_kib: int = 0
    opened: int = 0
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    open_seconds: float = 0.0
    open_server_cpu: float = 0.0  # seconds
    open_client_cpu: float = 0.0
    handshakes: list[float] = field(default_factory=list)
    still_open: list[int] = field(default_factory=list)
    idle_seconds: float = 0.0
    idle_cpu_percent: float = 0.0
    fds_idle: int = 0
    database_connections: int | None = None
    relay_ms: float | None = None
    close_seconds: float = 0.0
    load_average: float = 0.0  # the machine's, over the minute before opening
    # The waiting room's poll (--poll): requests made, their statuses and latencies.
    poll_seconds: float = 0.0
    poll_statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    poll_latencies: list[float] = field(default_factory=list)
    poll_cpu_percent: float = 0.0
    poll_client_cpu_percent: float = 0.0
    poll_still_open: int = 0

    @property
    def kib_per_connection(self) -> float:
        return (self.rss_open_kib - self.rss_before_kib) / max(self.opened, 1)


# -- the people --------------------------------------------------------------------------

async def build(settings: Settings, waiting: int, in_call: int) -> list[Person]:
    """``waiting`` patients each in a centre's walk-in queue on their own consult, and
    ``in_call`` doctors each admitted one more patient: their consults and sessions.

    The calls' consults go through ``consults.walk_in`` and ``consults.admit``. The
    waiting patients' Encounters are written 500 to a transaction as ``walk_in`` writes
    them (``consults._new_encounter``), without its per-patient lock, search and audit
    record: 30 ms each, minutes for thousands, and nothing the sockets read differs."""
    store = Store(create_engine(settings))
    accounts = Accounts(store.engine)
    sessions = Sessions(store.engine)
    admin = await person_caller(store, await accounts.add(
        "bench-admin", PASSWORD, Role.CENTRE_ADMIN))
    centres = [await save_centre(store, admin, CentreDetails(
        names={"th": f"ศูนย์บริการสาธารณสุข {n}", "en": f"Health Centre {n}"},
        districts={"th": "บางรัก", "en": "Bang Rak"}, address="", city="Bangkok",
        country="TH", language="th",
        hours=(OpeningHours(DAYS_OF_WEEK, clock(0), clock(23, 59)),)))
        for n in range(CENTRES)]
    password_hash = hash_secret(PASSWORD)
    limit = asyncio.Semaphore(BUILD_CONCURRENCY if store.engine.dialect.name ==
                              "postgresql" else 1)

    async def account(n: int, patient: StoredResource) -> Account:
        async with limit:
            return await accounts.add(f"patient-{n}", None, Role.PATIENT,
                                      fhir_user=patient.reference, verified=True,
                                      password_hash=password_hash)

    async def session(of: Account) -> str:
        async with limit:
            return (await sessions.open(of.id, complete=True, address="127.0.0.1")).token

    people: list[Person] = []
    for start in range(0, waiting, 500):
        numbers = range(start, min(waiting, start + 500))
        now = datetime.now(UTC)
        async with store.writing(EVERYTHING) as tx:
            patients = [await tx.create(_patient(n, centres[n % CENTRES])) for n in numbers]
            encounters = [await tx.create(consults._new_encounter(
                p.id, centres[n % CENTRES].id, centres[n % CENTRES].location_id, now,
                appointment=None, practitioner_id=None))
                for n, p in zip(numbers, patients, strict=True)]
        made = await asyncio.gather(*(account(n, p)
                                      for n, p in zip(numbers, patients, strict=True)))
        tokens = await asyncio.gather(*(session(a) for a in made))
        people += [Person("waiting", e.id, t) for e, t in zip(encounters, tokens, strict=True)]
    for n in range(waiting, waiting + in_call):
        centre = centres[n % CENTRES]
        async with store.writing(EVERYTHING) as tx:
            patient = await tx.create(_patient(n, centre))
        caller = await person_caller(store, await account(n, patient))
        assert caller.account is not None
        consult = await consults.walk_in(store, caller, patient.id, centre.id)
        doctor = await add_account(store, f"bench-doctor-{n}", PASSWORD, Role.DOCTOR,
                                   name=f"Dr {n}", organizations=(centre.id,))
        await consults.admit(store, await person_caller(store, doctor), consult.encounter_id)
        people += [Person("patient in call", consult.encounter_id,
                          await session(caller.account)),
                   Person("clinician in call", consult.encounter_id, await session(doctor))]
    if store.engine.dialect.name == "postgresql":
        # Planner statistics, as autovacuum keeps them on a running database: without,
        # just after the bulk load, the waiting-room search takes 0.5 s instead of 40 ms.
        async with store.engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
    await store.engine.dispose()
    return people


def _patient(number: int, centre: Centre) -> dict[str, Any]:
    """Registered with the centre (Patient.managingOrganization): what the walk-in queue
    is offered for."""
    return {"resourceType": "Patient",
            "name": [{"given": [f"Noy{number}"], "family": "Walkin"}],
            "managingOrganization": {"reference": f"Organization/{centre.id}"}}


# -- the server --------------------------------------------------------------------------

def raise_file_limit() -> tuple[int, int]:
    """The soft limit on open files up to the hard one, for this process and the server
    it starts (children inherit it)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard


def _tree(pid: int) -> list[int]:
    """The process and its descendants (uvicorn forks only with several workers)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            found += _tree(int(child))
    return found


def rss_kib(pid: int) -> int:
    total = 0
    for each in _tree(pid):
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def cpu_seconds(pid: int) -> float:
    ticks = 0
    for each in _tree(pid):
        # Fields after the command's closing parenthesis: utime and stime are 14 and 15.
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def kernel_tcp_kib() -> int:
    """The kernel's memory for TCP buffers, machine-wide (not in any process's RSS)."""
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            fields = line.split()
            return int(fields[fields.index("mem") + 1]) * resource.getpagesize() // 1024
    return 0


def _own_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def open_files(pid: int) -> tuple[int, str]:
    """The server's open file descriptors, and its limit as the kernel has it."""
    limit = next(line for line in Path(f"/proc/{pid}/limits").read_text().splitlines()
                 if line.startswith("Max open files")).split()[3:5]
    return len(os.listdir(f"/proc/{pid}/fd")), "/".join(limit)


# -- the sockets -------------------------------------------------------------------------

async def open_socket(url: str, person: Person, deflate: bool = True) -> Opened:
    """A socket as the page's: the session cookie and mor's own Origin; open once mor's
    welcome came (a refusal is accepted, then closed with 4401 or 4403)."""
    ws_url = url.replace("http://", "ws://") + f"/video/{person.encounter_id}/signal"
    socket = await connect(
        ws_url, origin=Origin(url),
        additional_headers={"Cookie": f"{SESSION_COOKIE}={person.cookie}"},
        compression=None, extensions=[BROWSER_DEFLATE] if deflate else None,
        user_agent_header="Mozilla/5.0",
        open_timeout=60, ping_interval=None, max_queue=64)
    try:
        welcome = orjson.loads(await asyncio.wait_for(socket.recv(), 60))
    except BaseException:
        await socket.close()
        raise
    if welcome.get("type") != "welcome":
        await socket.close()
        raise RuntimeError(f"first message {welcome.get('type')!r}")
    return Opened(person, socket, str(welcome["peer"]))


def why(error: BaseException) -> str:
    if isinstance(error, InvalidStatus):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, ConnectionClosed):
        return f"closed {error.rcvd.code if error.rcvd else 'without a close frame'}"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError):
        return f"{type(error).__name__} errno {error.errno}"
    return type(error).__name__


async def hold(url: str, pid: int, people: Sequence[Person], figures: Figures,
               args: argparse.Namespace, postgres_url: str | None) -> None:
    batch, idle = args.batch, args.idle
    order = list(people)
    random.Random(6).shuffle(order)
    opened: list[Opened] = []
    tcp_before = kernel_tcp_kib()
    figures.load_average = os.getloadavg()[0]
    started, server_cpu, client_cpu = time.perf_counter(), cpu_seconds(pid), _own_cpu()
    for start in range(0, len(order), batch):
        async def timed(person: Person) -> Opened:
            t0 = time.perf_counter()
            got = await open_socket(url, person, deflate=args.deflate)
            figures.handshakes.append(time.perf_counter() - t0)
            return got

        results = await asyncio.gather(*(timed(p) for p in order[start:start + batch]),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, Opened):
                opened.append(result)
            else:
                figures.failures[why(result)] += 1
        print(f"  {figures.backend}: {len(opened)} open, "
              f"{sum(figures.failures.values())} failed", file=sys.stderr)
    figures.open_seconds = time.perf_counter() - started
    figures.open_server_cpu = cpu_seconds(pid) - server_cpu
    figures.open_client_cpu = _own_cpu() - client_cpu
    figures.opened = len(opened)
    await asyncio.sleep(2)  # deliveries of 'peer-joined' done
    figures.rss_open_kib = rss_kib(pid)
    figures.kernel_tcp_kib = (tcp_before, kernel_tcp_kib())

    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < idle:
        await asyncio.sleep(min(CHECK_EVERY, idle - elapsed))
        figures.still_open.append(sum(o.socket.state is State.OPEN for o in opened))
        if figures.fds_idle == 0:
            figures.fds_idle = open_files(pid)[0]
            if postgres_url is not None:
                figures.database_connections = await database_connections(postgres_url)
    figures.idle_seconds = time.perf_counter() - t0
    figures.idle_cpu_percent = 100 * (cpu_seconds(pid) - cpu0) / figures.idle_seconds
    figures.rss_idle_end_kib = rss_kib(pid)
    for opening in opened:
        if opening.socket.state is not State.OPEN:
            code = opening.socket.close_code
            figures.failures[f"closed while idle ({code})"] += 1

    figures.relay_ms = await relayed(opened)
    if args.poll > 0:
        await poll_waiting_room(url, pid, [o for o in opened if o.person.kind == "waiting"],
                                figures, args.poll)
        figures.poll_still_open = sum(o.socket.state is State.OPEN for o in opened)
    t1 = time.perf_counter()
    for start in range(0, len(opened), batch):
        await asyncio.gather(*(o.socket.close() for o in opened[start:start + batch]))
    figures.close_seconds = time.perf_counter() - t1
    await asyncio.sleep(3)
    figures.rss_closed_kib = rss_kib(pid)


async def relayed(opened: list[Opened]) -> float | None:
    """One doctor's offer to their patient, after the idle time: ms until it arrived."""
    by_consult: dict[str, dict[str, Opened]] = collections.defaultdict(dict)
    for opening in opened:
        if opening.person.kind != "waiting" and opening.socket.state is State.OPEN:
            by_consult[opening.person.encounter_id][opening.person.kind] = opening
    pair = next((p for p in by_consult.values() if len(p) == 2), None)
    if pair is None:
        return None
    clinician, patient = pair["clinician in call"], pair["patient in call"]
    while True:  # what came while idle: 'peer-joined' from the other
        try:
            await asyncio.wait_for(patient.socket.recv(), 0.2)
        except TimeoutError:
            break
    t0 = time.perf_counter()
    await clinician.socket.send(orjson.dumps(DESCRIPTION | {"to": patient.peer_id}).decode())
    try:
        async with asyncio.timeout(10):
            while True:
                message = orjson.loads(await patient.socket.recv())
                if message.get("type") == "description" and (
                        message.get("from") == clinician.peer_id):
                    return 1000 * (time.perf_counter() - t0)
    except TimeoutError:
        return None


async def poll_waiting_room(url: str, pid: int, waiting: list[Opened], figures: Figures,
                            seconds: float) -> None:
    """What a waiting patient's page does besides its socket: GET …/state every
    POLL_EVERY seconds (video.js), each patient starting at a random moment."""
    chance = random.Random(15)
    limits = httpx.Limits(max_connections=POLL_CONNECTIONS,
                          max_keepalive_connections=POLL_CONNECTIONS)
    # Requests wait here for one of the connections, not in httpx's pool, whose queue
    # costs this process time in proportion to its length (thousands: the client would
    # stall, and miss the server's pings). Their latency counts the wait.
    connections = asyncio.Semaphore(POLL_CONNECTIONS)
    async with httpx.AsyncClient(base_url=url, limits=limits,
                                 timeout=httpx.Timeout(30, pool=None)) as client:
        cpu0, t0, client0 = cpu_seconds(pid), time.perf_counter(), _own_cpu()
        end = t0 + seconds

        in_flight = 0

        async def page(opening: Opened) -> None:
            nonlocal in_flight
            await asyncio.sleep(chance.uniform(0, POLL_EVERY))
            while (start := time.perf_counter()) < end:
                in_flight += 1
                try:
                    async with connections:
                        answer = await client.get(
                            f"/video/{opening.person.encounter_id}/state",
                            headers={"Cookie": f"{SESSION_COOKIE}={opening.person.cookie}"})
                    figures.poll_statuses[f"HTTP {answer.status_code}"] += 1
                except httpx.HTTPError as error:
                    figures.poll_statuses[type(error).__name__] += 1
                finally:
                    in_flight -= 1
                figures.poll_latencies.append(time.perf_counter() - start)
                await asyncio.sleep(max(0.0, min(end, start + POLL_EVERY)
                                        - time.perf_counter()))

        tasks = [asyncio.create_task(page(o)) for o in waiting]
        # Those still unanswered a few seconds after the end are counted, not waited for.
        _, late = await asyncio.wait(tasks, timeout=seconds + POLL_GRACE)
        if in_flight:
            figures.poll_statuses[f"unanswered {POLL_GRACE:.0f} s after the end"] += in_flight
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        figures.poll_seconds = time.perf_counter() - t0
        figures.poll_cpu_percent = 100 * (cpu_seconds(pid) - cpu0) / figures.poll_seconds
        figures.poll_client_cpu_percent = 100 * (_own_cpu() - client0) / figures.poll_seconds


async def database_connections(postgres_url: str) -> int:
    database = postgres_url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(postgres_url)
    try:
        return int(await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> "
            "pg_backend_pid()", database))
    finally:
        await connection.close()


def measure(backend: str, args: argparse.Namespace) -> Figures:
    in_call = args.in_call
    waiting = args.connections - 2 * in_call
    with _database(backend) as database_url, tempfile.TemporaryDirectory() as scratch:
        upgrade(database_url)
        settings = Settings(database_url=database_url, rate_limit_per_minute=0,
                            secret_key_file=Path(scratch) / "secret.key",
                            outbox_dir=Path(scratch) / "outbox",
                            export_dir=Path(scratch) / "exports")
        t0 = time.perf_counter()
        people = asyncio.run(build(settings, waiting, in_call))
        build_seconds = time.perf_counter() - t0
        print(f"  {backend}: {len(people)} people built in {build_seconds:.0f} s",
              file=sys.stderr)
        process, url = start_server(settings)
        try:
            # One socket opened and closed first, so that what is loaded once (code,
            # caches) is in the baseline, not counted per connection.
            async def warm_up() -> None:
                opening = await open_socket(url, people[0])
                await opening.socket.close()
                await asyncio.sleep(3)

            asyncio.run(warm_up())
            _, limit = open_files(process.pid)
            figures = Figures(backend, len(people),
                              collections.Counter(p.kind for p in people), build_seconds,
                              limit, rss_kib(process.pid))
            asyncio.run(hold(url, process.pid, people, figures, args,
                             database_url.replace("+asyncpg", "")
                             if backend == "postgresql" else None))
            if process.poll() is not None:
                figures.failures["server exited"] += 1
        finally:
            process.terminate()
            process.wait(timeout=60)
    return figures


# -- the report --------------------------------------------------------------------------

def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def table(results: list[Figures]) -> list[str]:
    def row(name: str, values: list[str]) -> str:
        return f"| {name} | " + " | ".join(values) + " |"

    def p(values: list[float], share: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0

    def failed(f: Figures) -> str:
        return (f"{sum(f.failures.values())}" + (" (" + ", ".join(
            f"{n} {reason}" for reason, n in f.failures.most_common()) + ")"
            if f.failures else ""))

    return [
        row("measure", [f.backend for f in results]),
        row("---", ["---" for _ in results]),
        row("sockets asked", [f"{f.asked:,} ({f.kinds['waiting']:,} waiting, "
                              f"{f.kinds['clinician in call']:,} calls of 2)"
                              for f in results]),
        row("opened (welcome received)", [f"{f.opened:,}" for f in results]),
        row("failed, and why", [failed(f) for f in results]),
        row("time to open all", [f"{f.open_seconds:.1f} s ({f.opened / f.open_seconds:,.0f}"
                                 "/s)" for f in results]),
        row("CPU per socket opened: server / this client",
            [f"{1000 * f.open_server_cpu / max(f.opened, 1):.1f} / "
             f"{1000 * f.open_client_cpu / max(f.opened, 1):.1f} ms" for f in results]),
        row("handshake to welcome, p50 / p95 / max",
            [f"{1000 * p(f.handshakes, 0.5):.0f} / {1000 * p(f.handshakes, 0.95):.0f} / "
             f"{1000 * max(f.handshakes, default=0):.0f} ms" for f in results]),
        row(f"still open at each {CHECK_EVERY:.0f} s check while idle",
            [", ".join(f"{n:,}" for n in f.still_open) for f in results]),
        row("server RSS before any socket", [mib(f.rss_before_kib) for f in results]),
        row("server RSS with all open", [mib(f.rss_open_kib) for f in results]),
        row("**RSS per connection**", [f"**{f.kib_per_connection:.0f} KiB**"
                                       for f in results]),
        row("kernel TCP buffers, machine-wide (both ends; not in RSS)",
            [f"{mib(f.kernel_tcp_kib[0])} → {mib(f.kernel_tcp_kib[1])}" for f in results]),
        row("server RSS at the end of the idle time", [mib(f.rss_idle_end_kib)
                                                        for f in results]),
        row("server RSS after all closed", [mib(f.rss_closed_kib) for f in results]),
        row("server CPU while idle", [f"{f.idle_cpu_percent:.1f} % of a core over "
                                      f"{f.idle_seconds:.0f} s" for f in results]),
        row("server file descriptors while idle (limit soft/hard)",
            [f"{f.fds_idle:,} ({f.server_nofile})" for f in results]),
        row("database connections held while idle",
            ["—" if f.database_connections is None else f"{f.database_connections}"
             for f in results]),
        row("offer relayed doctor → patient after the idle time",
            ["not delivered" if f.relay_ms is None else f"{f.relay_ms:.1f} ms"
             for f in results]),
        row("time to close all", [f"{f.close_seconds:.1f} s" for f in results]),
        row("machine load average (1 min) as they began to open",
            [f"{f.load_average:.1f}" for f in results]),
        row("building the people in-process (not measured)",
            [f"{f.build_seconds:.0f} s" for f in results]),
    ] + ([] if not any(f.poll_seconds for f in results) else [
        row(f"waiting room polling …/state every {POLL_EVERY:.0f} s: asked / answered (200)",
            [f"{f.kinds['waiting'] / POLL_EVERY:,.0f}/s / "
             f"{f.poll_statuses['HTTP 200'] / max(f.poll_seconds, 1):,.0f}/s over "
             f"{f.poll_seconds:.0f} s" for f in results]),
        row("… their answers", [", ".join(f"{n:,} {status}" for status, n in
                                          f.poll_statuses.most_common()) for f in results]),
        row("… latency p50 / p95 / max",
            [f"{1000 * p(f.poll_latencies, 0.5):,.0f} / {1000 * p(f.poll_latencies, 0.95):,.0f}"
             f" / {1000 * max(f.poll_latencies, default=0):,.0f} ms" for f in results]),
        row("… CPU: server / this client", [f"{f.poll_cpu_percent:.0f} / "
                                             f"{f.poll_client_cpu_percent:.0f} % of a core"
                                             for f in results]),
        row("… sockets still open after it", [f"{f.poll_still_open:,}" for f in results]),
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--in-call", type=int, default=100,
                        help="doctor-patient pairs in a call (two sockets each); the rest "
                             "are patients waiting")
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--idle", type=float, default=30)
    parser.add_argument("--poll", type=float, default=0,
                        help="then SECONDS of the waiting room's …/state poll (every "
                             f"{POLL_EVERY:.0f} s per waiting patient), sockets still open")
    parser.add_argument("--no-deflate", dest="deflate", action="store_false",
                        help="offer no per-message deflate (what it costs per socket)")
    parser.add_argument("--record", action="store_true",
                        help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    if args.connections < 2 * args.in_call + 1:
        parser.error("--connections must exceed twice --in-call")
    soft, hard = raise_file_limit()
    print(f"open files limit (RLIMIT_NOFILE) of this process and the server: soft {soft}, "
          f"hard {hard}", file=sys.stderr)
    if soft < args.connections + 200:
        print(f"  warning: {soft} open files may be too few for {args.connections} sockets",
              file=sys.stderr)
    results = [measure(backend, args) for backend in args.backends.split(",")]
    command = "python bench/idle_sockets.py " + " ".join(sys.argv[1:])
    section = "\n".join([
        f"\n## {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, mor {_commit()}: idle "
        "signalling WebSockets",
        "", f"- machine: {_machine()}; server, database and the client share it",
        f"- command: `{command.strip()}`",
        f"- server: one uvicorn {uvicorn.__version__} process (websockets "
        f"{websockets_version}, sans-I/O protocol; defaults as `mor serve`: ping every "
        f"20 s, per-message deflate); open files limit soft {soft} / hard {hard}, "
        "inherited",
        f"- measured: each person of {CENTRES} centres' walk-in queues (a consult each) "
        "and of doctor-patient calls opens /video/{encounter}/signal with their own "
        "session cookie and Origin, through the real server, from one asyncio client "
        "(websockets, " + ("offering deflate as Chromium does" if args.deflate else
                           "offering no deflate") + f"), {args.batch} at once; held "
        f"idle {args.idle:.0f} s; then one doctor's offer to their patient. Accounts, "
        "consults and sessions made in-process first (calls through consults.walk_in "
        "and .admit, the waiting patients' Encounters in bulk as walk_in writes them, "
        "one password hash for all patients)" + (
            f"; then, sockets still open, {args.poll:.0f} s of each waiting patient's "
            f"page asking for its place in the queue (GET …/state every {POLL_EVERY:.0f} s,"
            " as video.js does)" if args.poll > 0 else ""),
        "- target: ≥ 5,000 idle WebSockets in one process; memory per connection", "",
        *table(results), ""])
    publish(section, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
