"""Benchmark: finding a service's free times at a busy health centre.

One centre with 20 clinicians rostered on general practice, Monday to Saturday 08:00 to
16:00 in 15-minute slots for the four weeks ahead (17,000-odd slots), a third of them
booked. Measures, on SQLite and PostgreSQL, the free-times search the booking page runs
(one week; and the whole four weeks) and the booking page itself, rendered in-process.

    .venv/bin/python bench/slot_search.py [--backends sqlite,postgresql] [--runs 200]
        [--record]

Target (issue 5): p95 ≤ 50 ms on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fhir_crud import _commit, _database, _machine, publish

from mor.api import heap
from mor.api.app import create_app
from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.roles import Role
from mor.config import Settings
from mor.db.migrate import upgrade
from mor.db.statistics import refresh_statistics
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.booking import free_times, schedules_of
from mor.services.scheduling.centres import CentreDetails, OpeningHours, save_centre
from mor.services.scheduling.lookup import find
from mor.services.scheduling.offered import Service, save_service
from mor.services.scheduling.rosters import Shift, save_roster_entry
from mor.services.scheduling.slots import refresh_slots
from mor.services.staff import add_account

CLINICIANS = 20
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat")
BOOKED_SHARE = 1 / 3
PASSWORD = "a benchmark password"


async def build(app: object, settings: Settings) -> tuple[str, str, int]:
    store = app.state.store  # type: ignore[attr-defined]
    admin_account = await Accounts(store.engine).add("bench-admin", PASSWORD, Role.CITY_ADMIN)
    admin = await person_caller(store, admin_account)
    centre = await save_centre(store, admin, CentreDetails(
        names={"th": "ศูนย์บริการสาธารณสุข ห้วยขวาง", "en": "Huai Khwang Health Centre"},
        districts={"th": "ห้วยขวาง", "en": "Huai Khwang"}, address="", city="Bangkok",
        country="TH", language="th", hours=(OpeningHours(DAYS, clock(8), clock(16)),)))
    service = await save_service(store, admin, Service(
        "", centre.id, centre.location_id, "general-practice", 15, 1))
    slots = 0
    for number in range(CLINICIANS):
        account = await add_account(store, f"doctor-{number}", PASSWORD, Role.DOCTOR,
                                    name=f"Doctor {number}", organizations=(centre.id,))
        entry = await save_roster_entry(
            store, admin, service, (account.fhir_user or "").removeprefix("Practitioner/"),
            (Shift(DAYS, clock(8), clock(16)),))
        slots += (await refresh_slots(store, entry.schedule_id, zone=settings.zone)).made
    await _book_a_share(store, service.id)
    # As autovacuum would soon after (it is off on this machine's server): without it the
    # planner takes 15,000 fresh slots for a handful, and one search took 45 s.
    await refresh_statistics(store.engine)
    return centre.id, service.id, slots


async def _book_a_share(store: Store, service_id: str) -> None:
    """A third of all slots busy, at random: as full as a popular centre's weeks."""
    schedules = await schedules_of(store, service_id)
    rng = random.Random(5)
    async with store.writing(EVERYTHING) as tx:
        slots = await find(tx, "Slot", [("schedule", ",".join(
            f"Schedule/{s}" for s in schedules))], limit=100_000)
        for slot in rng.sample(slots, int(len(slots) * BOOKED_SHARE)):
            busy = {k: v for k, v in slot.items() if k != "meta"} | {"status": "busy"}
            await tx.update("Slot", slot["id"], busy)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(backend: str, runs: int) -> list[tuple[str, float, float, float]]:
    with _database(backend) as url:
        upgrade(url)
        return asyncio.run(_measure(backend, url, runs))


async def _measure(backend: str, url: str, runs: int) -> list[tuple[str, float, float, float]]:
    settings = Settings(database_url=url, rate_limit_per_minute=0)
    app = create_app(settings)
    store = app.state.store
    started = time.perf_counter()
    centre_id, service_id, slots = await build(app, settings)
    print(f"{backend}: {slots} slots made in {time.perf_counter() - started:.1f} s")
    heap.settle()  # as the server's start-up does
    rows = []
    now = datetime.now(settings.zone)
    for label, days in (("free times, three days (a page)", 3), ("free times, one week", 7),
                        ("free times, four weeks", 28)):
        latencies = []
        for _ in range(runs):
            begin = time.perf_counter()
            await free_times(store, service_id, now, now + timedelta(days=days))
            latencies.append((time.perf_counter() - begin) * 1000)
        rows.append((label, statistics.median(latencies), percentile(latencies, 0.95),
                     percentile(latencies, 0.99)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mor.bench") as http:
        latencies = []
        for _ in range(runs):
            begin = time.perf_counter()
            page = await http.get(f"/book/{centre_id}/{service_id}")
            latencies.append((time.perf_counter() - begin) * 1000)
            assert page.status_code == 200
    rows.append(("booking page (three days), rendered", statistics.median(latencies),
                 percentile(latencies, 0.95), percentile(latencies, 0.99)))
    await store.engine.dispose()
    return [(f"{backend}: {label}", *figures) for label, *figures in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--record", action="store_true",
                        help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    rows = []
    for backend in args.backends.split(","):
        rows += measure(backend, args.runs)
    table = ["| measure | p50 | p95 | p99 |", "| --- | --- | --- | --- |"]
    table += [f"| {label} | {p50:.1f} ms | {p95:.1f} ms | {p99:.1f} ms |"
              for label, p50, p95, p99 in rows]
    command = "python bench/slot_search.py " + " ".join(sys.argv[1:])
    section = "\n".join([
        f"\n## {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, mor {_commit()}: slot search",
        "", f"- machine: {_machine()}; database and benchmark share it",
        f"- command: `{command.strip()}`",
        f"- data: one centre, {CLINICIANS} clinicians, general practice Mon-Sat 08:00-16:00 "
        "in 15-minute slots, 4 weeks; a third of the times booked; one client, in-process",
        "- target: p95 ≤ 50 ms on PostgreSQL", "", *table, ""])
    publish(section, args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
