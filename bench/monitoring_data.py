"""A health centre's home monitoring at a city's scale, for bench/monitoring_worklist.py.

One centre and its nurse; ``patients`` patients registered there, each enrolled in a
hypertension plan and sending a blood-pressure reading every day for ``days`` days; 5 %
of them with open alerts (1 % urgent: a hypertensive crisis; 2 % out of range, with the
worsening trend that comes with it; 2 % who stopped sending readings).

mor's write path stores about 1,300 resources a second, so only four patients are written
through it, one of each kind ("templates"): enrolled by the nurse, their readings recorded
as the patient (each audited) and the plan evaluated by the alert rules after every
reading, day by day, as the watcher would. The rest are copies of those four made inside
PostgreSQL: every row mor wrote for a template patient (``resource``,
``resource_version`` and each search-index table) is copied with its UUIDs (resource ids,
references, reading keys, and the words of them the ``_content`` index holds) replaced by
new ones derived from the copy's number. How each index row changes is worked out from
the template rows, checked against mor's own indexer on every template resource before
copying, and the copies are checked the same way afterwards on a random sample.

Copies are written in the order the originals were (day by day across all patients), as
a centre's data accumulates; the indexes are dropped during the copy and rebuilt after,
with the exact definitions mor's migrations gave them; then VACUUM ANALYZE, as mor's
import ends.

    .venv/bin/python bench/monitoring_data.py --patients 20000 --days 90

The copying needs PostgreSQL (``MOR_BENCH_POSTGRES_URL``, else the local server).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any, Final

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import create_async_engine

from mor.api.app import create_app
from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.config import Settings
from mor.db.migrate import upgrade
from mor.db.schema import INDEX_TABLES
from mor.db.statistics import refresh_statistics
from mor.fhir.store import Store, all_index_rows
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.alerts import evaluate_plan
from mor.services.monitoring.plans import enrol
from mor.services.monitoring.readings import Reading, record
from mor.services.scheduling.centres import CentreDetails, OpeningHours, save_centre
from mor.services.staff import add_account

DATABASE: Final = "mor_bench_monitoring"
PASSWORD: Final = "a benchmark password"
# Share of the patients of each kind; the rest are "steady" (readings at target).
SHARES: Final = {"urgent": 0.01, "high": 0.02, "missing": 0.02}
KINDS: Final = ("steady", "urgent", "high", "missing")
# Steady patients miss this many days once, half-way through (a holiday): the rules raise
# a "missing" alert that closes when the readings start again: history, as in life.
HOLIDAY_DAYS: Final = 5
STOPPED_DAYS: Final = 6  # the "missing" patients' last reading was this many days ago
SEED: Final = 8
# An estimate, for the disk check before copying: one reading (its Observation with 76
# index rows and its AuditEvent, each with a version row) takes about 24 KB on disk.
BYTES_PER_READING: Final = 24_000
DATA_TABLES: Final = ("resource", "resource_version", *(t.name for t in INDEX_TABLES.values()))
UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The text columns of each table, where a UUID may appear.
TEXT_COLUMNS: Final = {
    "resource": ("id", "content"), "resource_version": ("id", "content"),
    "idx_string": ("value_norm", "value_exact"), "idx_token": ("system", "code", "text"),
    "idx_reference": ("target_id", "target_url"), "idx_date": (), "idx_number": (),
    "idx_quantity": ("system", "code", "unit", "canonical_code"), "idx_uri": ("value",),
    "idx_patient_date": ("patient_id",),
}


@dataclass(frozen=True, slots=True)
class Generated:
    url: str
    centre_id: str
    patients: int
    days: int
    now: datetime  # the moment the data ends at: the benchmark's "now"
    kinds: dict[str, int]  # patients of each kind
    counts: dict[str, int]  # resources of each type
    seconds: dict[str, float]  # templates, copy, indexes, vacuum
    rows: int  # rows copied, all tables
    size_bytes: int  # the database, on disk

    def describe(self) -> str:
        kinds = ", ".join(f"{n:,} {k}" for k, n in self.kinds.items())
        largest = sorted(self.counts.items(), key=lambda item: -item[1])[:6]
        types = ", ".join(f"{n:,} {t}" for t, n in largest)
        return (f"{self.patients:,} patients ({kinds}), {self.days} days of daily readings: "
                f"{sum(self.counts.values()):,} resources ({types}, ...), "
                f"{self.size_bytes / 1e9:.1f} GB")


def database_url(name: str = DATABASE) -> str:
    admin = admin_url()
    return admin.rsplit("/", 1)[0] + f"/{name}"


def admin_url() -> str:
    return os.environ.get("MOR_BENCH_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(admin_url())
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def kinds_of(patients: int) -> dict[str, int]:
    counts = {kind: max(1, round(patients * share)) for kind, share in SHARES.items()}
    return {"steady": patients - sum(counts.values()), **counts}


async def existing(url: str) -> Generated | None:
    """The data a previous run left in the database, if it finished."""
    try:
        connection = await asyncpg.connect(url)
    except (asyncpg.InvalidCatalogNameError, OSError):
        return None
    try:
        row = await connection.fetchrow(
            "SELECT value FROM bench.meta WHERE key = 'generated'")
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await connection.close()
    if row is None:
        return None
    data = json.loads(row["value"])
    data["now"] = datetime.fromisoformat(data["now"])
    return Generated(**data)


async def generate(url: str, patients: int, days: int, *, check_disk: bool = True
                   ) -> Generated:
    """Drop and remake the database with the data described above."""
    if patients < len(KINDS):
        raise ValueError(f"at least {len(KINDS)} patients: one of each kind")
    if days < 2 * HOLIDAY_DAYS + STOPPED_DAYS + 14:
        raise ValueError(f"at least {2 * HOLIDAY_DAYS + STOPPED_DAYS + 14} days of readings")
    needed = patients * days * BYTES_PER_READING
    free = shutil.disk_usage("/var/lib/postgresql" if os.path.exists(
        "/var/lib/postgresql") else "/").free
    print(f"estimate: {patients * days:,} readings, about {needed / 1e9:.0f} GB "
          f"({free / 1e9:.0f} GB free)", file=sys.stderr)
    if check_disk and needed > free - 10e9:
        raise SystemExit(f"{needed / 1e9:.0f} GB will not fit in {free / 1e9:.0f} GB free "
                         "(keeping 10 GB): ask for fewer --patients or --days")
    name = url.rsplit("/", 1)[1]
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}"')
    await asyncio.to_thread(upgrade, url)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    now = datetime.now(UTC).replace(microsecond=0)
    app = create_app(Settings(database_url=url, rate_limit_per_minute=0))
    store: Store = app.state.store
    try:
        centre_id, templates = await _write_templates(store, days, now)
    finally:
        await store.engine.dispose()
    seconds["templates (mor's write path)"] = time.perf_counter() - started
    kinds = kinds_of(patients)
    connection = await asyncpg.connect(url)
    try:
        rows = await _copy(connection, templates, kinds, seconds)
        started = time.perf_counter()
        await refresh_statistics_url(url)
        seconds["VACUUM ANALYZE"] = time.perf_counter() - started
        counts = dict(await connection.fetch(
            "SELECT resource_type, count(*) FROM resource GROUP BY 1"))
        size = await connection.fetchval("SELECT pg_database_size(current_database())")
        generated = Generated(url, centre_id, patients, days, now, kinds,
                              {str(k): int(v) for k, v in counts.items()},
                              {k: round(v, 1) for k, v in seconds.items()}, rows, int(size))
        meta = asdict(generated)
        meta["now"] = now.isoformat()
        await connection.execute(
            "INSERT INTO bench.meta VALUES ('generated', $1)", json.dumps(meta))
    finally:
        await connection.close()
    return generated


async def refresh_statistics_url(url: str) -> None:
    """VACUUM ANALYZE the data tables, as mor's import does at its end."""
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        await refresh_statistics(engine)
    finally:
        await engine.dispose()


# -- the four template patients, through mor's services ------------------------------


def _centre() -> CentreDetails:
    every_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return CentreDetails(
        names={"th": "ศูนย์บริการสาธารณสุข ดินแดง", "en": "Din Daeng Health Centre"},
        districts={"th": "ดินแดง", "en": "Din Daeng"}, address="", city="Bangkok",
        country="TH", language="th", hours=(OpeningHours(every_day, clock(8), clock(16)),))


@dataclass(slots=True)
class _Template:
    kind: str
    patient_id: str
    caller: Principal
    plan_id: str = ""


async def _write_templates(store: Store, days: int, now: datetime
                           ) -> tuple[str, dict[str, str]]:
    """The centre, its nurse and one patient of each kind with all their readings and
    alerts, written day by day; returns the centre's id and each kind's patient id."""
    admin = await person_caller(store, await Accounts(store.engine).add(
        "bench-admin", PASSWORD, Role.CITY_ADMIN))
    centre = await save_centre(store, admin, _centre())
    nurse = await person_caller(store, await add_account(
        store, "bench-nurse", PASSWORD, Role.NURSE, name="Nurse Ploy",
        organizations=(centre.id,)))
    start = now - timedelta(days=days)
    templates = []
    for kind in KINDS:
        async with store.writing(EVERYTHING) as tx:
            patient = await tx.create({
                "resourceType": "Patient", "active": True,
                "name": [{"use": "official", "family": "Srisuk", "given": ["Malee"]}],
                "gender": "female", "birthDate": "1961-04-12",
                "managingOrganization": {"reference": f"Organization/{centre.id}"}})
        account = await Accounts(store.engine).add(
            f"bench-patient-{kind}", None, Role.PATIENT, password_hash="-",
            fhir_user=patient.reference, verified=True)
        template = _Template(kind, patient.id, await person_caller(store, account))
        # A nurse of the centre enrols them, the day before their first reading.
        template.plan_id = (await enrol(store, nurse, patient.id, ["hypertension"],
                                        now=start)).id
        templates.append(template)
    rng = random.Random(SEED)
    holiday = range(days // 2, days // 2 + HOLIDAY_DAYS)
    for day in range(days):
        # Taken in the morning, at the same minute by everyone (copies share the times).
        taken = start + timedelta(days=day + 1, hours=-10, minutes=rng.randint(0, 50))
        left = days - 1 - day  # days before the last
        normal = (rng.randint(118, 136), rng.randint(74, 88), rng.randint(62, 80))
        for template in templates:
            values = _values(template.kind, left, normal)
            if values is not None and not (template.kind == "steady" and day in holiday):
                systolic, diastolic, pulse = values
                await record(store, template.caller, template.patient_id, Reading(
                    "bp", taken, {"systolic": systolic, "diastolic": diastolic,
                                  "pulse": pulse}, key=f"urn:uuid:{uuid.uuid4()}"),
                    template.plan_id)
            # The watcher, after the reading (and its sweep for gaps, every day).
            await evaluate_plan(store, template.plan_id, now=min(now, taken + timedelta(
                minutes=5)))
    for template in templates:
        await evaluate_plan(store, template.plan_id, now=now)
    return centre.id, {t.kind: t.patient_id for t in templates}


def _values(kind: str, left: int, normal: tuple[int, int, int]
            ) -> tuple[int, int, int] | None:
    """A kind of patient's reading, ``left`` days before the last day; None: none sent."""
    if kind == "urgent" and left == 0:
        return 186, 112, 96
    if kind == "high" and left < 3:
        return 162 + left, 98 - left, 84
    if kind == "missing" and left < STOPPED_DAYS:
        return None
    return normal


# -- copying inside PostgreSQL ----------------------------------------------------------

_FUNCTIONS: Final = """
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE IF NOT EXISTS bench.meta (key text PRIMARY KEY, value text NOT NULL);
-- A copy's UUID for a template's: the same for every row that names it.
CREATE OR REPLACE FUNCTION bench.new_uuid(old text, copy integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT md5(old || '/' || copy)::uuid::text $$;
CREATE OR REPLACE FUNCTION bench.remap(value text, olds text[], copy integer) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE old text;
BEGIN
    IF olds IS NULL THEN RETURN value; END IF;
    FOREACH old IN ARRAY olds LOOP
        value := replace(value, old, md5(old || '/' || copy)::uuid::text);
    END LOOP;
    RETURN value;
END $$;
"""


@dataclass(frozen=True, slots=True)
class _Change:
    """How a text value of a template row becomes the copy's: ``olds`` (the UUIDs in it)
    each replaced; or it is ``group`` of one of them (a word of ``_content``)."""

    olds: tuple[str, ...] = ()
    group: tuple[str, int] | None = None


def _olds(row: asyncpg.Record, shared: set[str]) -> list[str]:
    """The UUIDs of a resource or version row that its copies replace."""
    found = set(UUID.findall(row["content"] or "")) | set(UUID.findall(row["id"]))
    return sorted(found - shared)


def _change(value: str | None, olds: Sequence[str]) -> _Change:
    if value is None:
        return _Change()
    inside = tuple(o for o in olds if o in value)
    if inside:
        return _Change(inside)
    for old in olds:
        parts = old.split("-")
        if value in parts:
            return _Change(group=(old, parts.index(value) + 1))
    return _Change()


def _apply(value: str | None, change: _Change, copy: int) -> str | None:
    """What the SQL does to a value, in Python: to check it against mor's indexer."""
    if value is None:
        return None
    if change.group is not None:
        old, part = change.group
        return _new_uuid(old, copy).split("-")[part - 1]
    for old in change.olds:
        value = value.replace(old, _new_uuid(old, copy))
    return value


def _new_uuid(old: str, copy: int) -> str:
    return str(uuid.UUID(hashlib.md5(f"{old}/{copy}".encode()).hexdigest()))


async def _copy(connection: asyncpg.Connection, templates: dict[str, str],
                kinds: dict[str, int], seconds: dict[str, float]) -> int:
    await connection.execute(_FUNCTIONS)
    started = time.perf_counter()
    template_pks: dict[int, str] = {}  # resource pk -> kind
    for kind, patient_id in templates.items():
        for row in await connection.fetch(
                "SELECT resource_pk FROM idx_reference WHERE param = '-patient' AND "
                "target_type = 'Patient' AND target_id = $1", patient_id):
            if template_pks.setdefault(row["resource_pk"], kind) != kind:
                raise RuntimeError(f"resource {row['resource_pk']} is in the records of two "
                                   "template patients: it cannot be copied with one")
    pks = sorted(template_pks)
    resources = await connection.fetch(
        "SELECT * FROM resource WHERE pk = any($1::bigint[]) ORDER BY last_updated, pk", pks)
    # Every UUID in a template's rows is the template patient's (their resources, their
    # readings' keys) unless it is the id of a resource they share (the centre, the nurse).
    shared = {r["id"] for r in await connection.fetch(
        "SELECT id FROM resource WHERE NOT (pk = any($1::bigint[]))", pks)}
    olds_of = {r["pk"]: _olds(r, shared) for r in resources}
    # Copies, numbered from 1 for each kind (the template is copy 0), in the order the
    # templates' resources were written; the copies of one resource get consecutive pks.
    base = int(await connection.fetchval("SELECT max(pk) FROM resource")) + 1
    plan: list[tuple[int, int, int, str]] = []  # (template pk, first new pk, copies, kind)
    next_pk = base
    for r in resources:
        copies = kinds[template_pks[r["pk"]]] - 1
        plan.append((r["pk"], next_pk, copies, template_pks[r["pk"]]))
        next_pk += copies
    rank = {pk: n for n, (pk, *_rest) in enumerate(plan)}
    rows_of = await _template_rows(connection, pks)
    _check_changes(resources, rows_of, olds_of)
    await _stage(connection, plan, rank, resources, rows_of, olds_of, shared)
    seconds["reading the templates"] = time.perf_counter() - started
    definitions = await _drop_indexes(connection)
    started = time.perf_counter()
    await connection.execute("SET synchronous_commit = off")
    total = 0
    chunk = max(1, len(plan) // 20)
    for first in range(0, len(plan), chunk):
        last = min(len(plan), first + chunk) - 1
        for table in DATA_TABLES:
            status = await connection.execute(_copy_statement(table), first, last)
            total += int(status.rsplit(" ", 1)[1])
        elapsed = time.perf_counter() - started
        print(f"  copied {last + 1:,}/{len(plan):,} template resources: {total:,} rows in "
              f"{elapsed:.0f} s ({total / elapsed:,.0f} rows/s)", file=sys.stderr)
    await connection.execute(
        "SELECT setval(pg_get_serial_sequence('resource', 'pk'), (SELECT max(pk) FROM resource))")
    seconds["copy (INSERT ... SELECT)"] = time.perf_counter() - started
    started = time.perf_counter()
    await _rebuild_indexes(connection, definitions)
    seconds["indexes rebuilt"] = time.perf_counter() - started
    await connection.execute(
        "DROP TABLE bench.t_resource, " + ", ".join(f"bench.t_{t}" for t in DATA_TABLES[1:]))
    return total


async def _template_rows(connection: asyncpg.Connection, pks: list[int]
                         ) -> dict[str, list[asyncpg.Record]]:
    rows = {}
    for table in DATA_TABLES[1:]:
        rows[table] = await connection.fetch(
            f"SELECT * FROM {table} WHERE resource_pk = any($1::bigint[]) "
            "ORDER BY resource_pk, ctid", pks)
    return rows


def _index_key(table: str, row: dict[str, Any]) -> tuple[Any, ...]:
    columns = [c for c in INDEX_TABLES[table.removeprefix("idx_")].columns.keys()  # noqa: SIM118
               if c not in ("resource_pk", "resource_type")]
    return tuple(row.get(c) for c in columns)


def _mor_rows(content: str) -> Counter[tuple[str, tuple[Any, ...]]]:
    """The index rows mor's indexer makes for a resource, as (table, key) counts."""
    found: Counter[tuple[str, tuple[Any, ...]]] = Counter()
    for row in all_index_rows(orjson.loads(content)):
        table = f"idx_{row.table}"
        found[(table, _index_key(table, {"param": row.param, "grp": row.group,
                                         **row.columns}))] += 1
    return found


def _check_changes(resources: Sequence[asyncpg.Record],
                   rows_of: dict[str, list[asyncpg.Record]], olds_of: dict[int, list[str]]
                   ) -> None:
    """Every template resource, changed as a copy will be, has exactly the index rows mor's
    indexer gives its changed content: the copies are what mor would have written."""
    copy = 7
    by_pk: dict[int, Counter[tuple[str, tuple[Any, ...]]]] = {}
    for table in DATA_TABLES[2:]:
        for row in rows_of[table]:
            olds = olds_of[row["resource_pk"]]
            changed = dict(row)
            for column in TEXT_COLUMNS[table]:
                changed[column] = _apply(row[column], _change(row[column], olds), copy)
            by_pk.setdefault(row["resource_pk"], Counter())[(table, _index_key(
                table, changed))] += 1
    for r in resources:
        if r["content"] is None:
            continue
        olds = olds_of[r["pk"]]
        content = _apply(r["content"], _Change(tuple(olds)), copy) or ""
        expected = _mor_rows(content)
        if expected != by_pk.get(r["pk"], Counter()):
            raise RuntimeError(f"a copy of {r['resource_type']}/{r['id']} would not be indexed "
                               f"as mor indexes it: {expected - by_pk.get(r['pk'], Counter())} "
                               f"missing, {by_pk.get(r['pk'], Counter()) - expected} extra")


async def _stage(connection: asyncpg.Connection, plan: list[tuple[int, int, int, str]],
                 rank: dict[int, int], resources: Sequence[asyncpg.Record],
                 rows_of: dict[str, list[asyncpg.Record]], olds_of: dict[int, list[str]],
                 shared: set[str]) -> None:
    """The template rows, each with its rank in writing order, its copies' first pk and
    count, and how each text column changes, in bench.t_<table>."""
    by_pk = {r["pk"]: r for r in resources}
    first_of = {pk: (first, copies) for pk, first, copies, _kind in plan}
    for table in DATA_TABLES:
        source = [by_pk[pk] for pk, *_rest in plan] if table == "resource" else rows_of[table]
        key = "pk" if table == "resource" else "resource_pk"
        texts = TEXT_COLUMNS[table]
        columns = list(source[0].keys()) if source else []
        extra = ["rank", "row_no", "first_pk", "copies"]
        for column in texts:
            extra += [f"{column}__olds", f"{column}__group_of", f"{column}__group"]
        await connection.execute(f"DROP TABLE IF EXISTS bench.t_{table}")
        await connection.execute(
            f"CREATE TABLE bench.t_{table} AS SELECT * FROM {table} LIMIT 0")
        await connection.execute(
            f"ALTER TABLE bench.t_{table} ADD rank integer, ADD row_no integer, "
            "ADD first_pk bigint, ADD copies integer" + "".join(
                f", ADD {c}__olds text[], ADD {c}__group_of text, ADD {c}__group integer"
                for c in texts))
        records = []
        for number, row in enumerate(source):
            pk = row[key]
            first, copies = first_of[pk]
            staged = [row[c] for c in columns] + [rank[pk], number, first, copies]
            olds = _olds(row, shared) if table == "resource_version" else olds_of[pk]
            for column in texts:
                change = _change(row[column], olds)
                staged += [list(change.olds) or None,
                           change.group[0] if change.group else None,
                           change.group[1] if change.group else None]
            records.append(tuple(staged))
        if records:
            await connection.copy_records_to_table(f"t_{table}", schema_name="bench",
                                                   records=records, columns=columns + extra)
        await connection.execute(f"CREATE INDEX ON bench.t_{table} (rank, row_no)")
        await connection.execute(f"ANALYZE bench.t_{table}")


def _new_value(column: str) -> str:
    return (f"CASE WHEN t.{column}__group_of IS NOT NULL THEN split_part(bench.new_uuid("
            f"t.{column}__group_of, k.copy), '-', t.{column}__group) "
            f"ELSE bench.remap(t.{column}, t.{column}__olds, k.copy) END")


def _copy_statement(table: str) -> str:
    """Copies of the template rows of ranks $1 to $2: for each resource in writing order,
    each copy, each of its rows."""
    mor_table = next((t for t in INDEX_TABLES.values() if t.name == table), None)
    if table == "resource":
        columns = ["pk", "resource_type", "id", "version_id", "last_updated", "deleted",
                   "content"]
        values = {"pk": "t.first_pk + k.copy - 1"}
        key = None
    elif table == "resource_version":
        columns = ["resource_pk", "version_id", "resource_type", "id", "last_updated",
                   "deleted", "method", "content"]
        values = {"resource_pk": "r.first_pk + k.copy - 1"}
        key = "resource_pk"
    else:
        assert mor_table is not None
        columns = list(mor_table.columns.keys())
        values = {"resource_pk": "r.first_pk + k.copy - 1"}
        key = "resource_pk"
    for column in TEXT_COLUMNS[table]:
        values[column] = _new_value(column)
    select = ", ".join(values.get(c, f"t.{c}") for c in columns)
    if key is None:
        return (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} "
                "FROM (SELECT * FROM bench.t_resource WHERE rank BETWEEN $1 AND $2 "
                "ORDER BY rank) AS t CROSS JOIN LATERAL generate_series(1, t.copies) "
                "AS k(copy)")
    return (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} "
            "FROM (SELECT rank, first_pk, copies FROM bench.t_resource WHERE rank BETWEEN "
            "$1 AND $2 ORDER BY rank) AS r CROSS JOIN LATERAL generate_series(1, r.copies) "
            f"AS k(copy) CROSS JOIN LATERAL (SELECT * FROM bench.t_{table} AS s "
            "WHERE s.rank = r.rank ORDER BY s.row_no) AS t")


@dataclass(frozen=True, slots=True)
class _Definitions:
    constraints: list[tuple[str, str, str, str]]  # table, name, definition, type
    indexes: list[tuple[str, str]]  # name, CREATE INDEX statement


async def _drop_indexes(connection: asyncpg.Connection) -> _Definitions:
    """Drop the data tables' constraints and indexes, keeping their exact definitions."""
    constraints = [(r["table"], r["conname"], r["definition"], r["contype"])
                   for r in await connection.fetch(
        "SELECT conrelid::regclass::text AS table, conname, pg_get_constraintdef(oid) "
        "AS definition, contype::text AS contype FROM pg_constraint "
        "WHERE conrelid::regclass::text = any($1::text[]) AND contype IN ('p', 'u', 'f')",
        list(DATA_TABLES))]
    names = {name for _t, name, _d, _c in constraints}
    indexes = [(r["indexname"], r["indexdef"]) for r in await connection.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND "
        "tablename = any($1::text[])", list(DATA_TABLES)) if r["indexname"] not in names]
    for table, name, _definition, _kind in sorted(constraints, key=lambda c: c[3] != "f"):
        await connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _statement in indexes:
        await connection.execute(f'DROP INDEX "{name}"')
    return _Definitions(constraints, indexes)


async def _rebuild_indexes(connection: asyncpg.Connection, definitions: _Definitions) -> None:
    await connection.execute("SET maintenance_work_mem = '1GB'")
    for table, name, definition, _kind in sorted(definitions.constraints,
                                                 key=lambda c: c[3] == "f"):
        begin = time.perf_counter()
        await connection.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        print(f"  {name}: {time.perf_counter() - begin:.0f} s", file=sys.stderr)
    for name, statement in definitions.indexes:
        begin = time.perf_counter()
        await connection.execute(statement)
        print(f"  {name}: {time.perf_counter() - begin:.0f} s", file=sys.stderr)


# -- checking the copies ------------------------------------------------------------------


async def check_copies(url: str, sample: int = 300) -> int:
    """A random sample of the copied resources: each one's index rows are exactly those
    mor's indexer makes of its content. Returns how many were checked."""
    connection = await asyncpg.connect(url)
    try:
        resources = await connection.fetch(
            "SELECT pk, resource_type, id, content FROM resource TABLESAMPLE SYSTEM (0.1) "
            "WHERE content IS NOT NULL LIMIT $1", sample)
        for r in resources:
            found: Counter[tuple[str, tuple[Any, ...]]] = Counter()
            for table in DATA_TABLES[2:]:
                for row in await connection.fetch(
                        f"SELECT * FROM {table} WHERE resource_pk = $1", r["pk"]):
                    assert row["resource_type"] == r["resource_type"]
                    found[(table, _index_key(table, dict(row)))] += 1
            expected = _mor_rows(r["content"])
            if found != expected:
                raise RuntimeError(f"{r['resource_type']}/{r['id']} (pk {r['pk']}) is not "
                                   f"indexed as mor indexes it: {expected - found} missing, "
                                   f"{found - expected} extra")
            if orjson.loads(r["content"])["id"] != r["id"]:
                raise RuntimeError(f"{r['resource_type']}/{r['id']}: its content has another id")
        return len(resources)
    finally:
        await connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--database", default=DATABASE)
    args = parser.parse_args()
    url = database_url(args.database)
    generated = asyncio.run(generate(url, args.patients, args.days))
    print(generated.describe())
    print(f"checked {asyncio.run(check_copies(url))} copies against mor's indexer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
