"""Benchmark: FHIR create, read, update and transaction-Bundle import over HTTP.

Starts ``mor serve`` on a fresh SQLite file and on a fresh PostgreSQL database,
drives it with ``wrk`` (a C load generator, so the client costs little of the
machine's CPU), prints a table and appends it to bench/RESULTS.md.

    .venv/bin/python bench/fhir_crud.py [--backends sqlite,postgresql] [--seconds 10]
        [--connections 32] [--workers 1]

Needs wrk (``apt-get install wrk``; installed here if missing) and, for
PostgreSQL, the server named by MOR_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), on which it creates and then
drops a database of its own. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
from joserfc.jwk import ECKey

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SEED_PATIENTS = 1000
BUNDLE_SIZE = 100
TARGETS = "reads ≥ 2,000/s, creates ≥ 800/s, Bundle import ≥ 3,000 resources/s (PostgreSQL)"


def patient(number: int) -> dict[str, object]:
    """A Patient of about 1 KB, like a Bangkok resident's registration."""
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "https://bora.dopa.go.th/citizen-id",
                        "value": f"{1101700000000 + number}"}],
        "active": True,
        "name": [{"use": "official", "family": "ใจดี", "given": ["สมชาย"],
                  "text": "นายสมชาย ใจดี"}],
        "telecom": [{"system": "phone", "value": "+66812345678", "use": "mobile"},
                    {"system": "email", "value": f"somchai{number}@example.org"}],
        "gender": "male",
        "birthDate": "1980-04-01",
        "address": [{"use": "home", "line": ["99/1 ถนนมิตรไมตรี"], "city": "กรุงเทพมหานคร",
                     "district": "ดินแดง", "postalCode": "10400", "country": "TH"}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47",
                                                    "code": "th"}]}}],
    }


def transaction_bundle() -> dict[str, object]:
    """A transaction of BUNDLE_SIZE resources: patients, their encounters and observations."""
    entries: list[dict[str, object]] = []
    for number in range(BUNDLE_SIZE // 4):
        patient_urn = f"urn:uuid:{uuid.uuid4()}"
        encounter_urn = f"urn:uuid:{uuid.uuid4()}"
        entries.append({"fullUrl": patient_urn, "resource": patient(number),
                        "request": {"method": "POST", "url": "Patient"}})
        entries.append({"fullUrl": encounter_urn, "resource": {
            "resourceType": "Encounter", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                      "code": "VR"},
            "subject": {"reference": patient_urn},
            "period": {"start": "2026-11-20T09:00:00+07:00", "end": "2026-11-20T09:15:00+07:00"},
        }, "request": {"method": "POST", "url": "Encounter"}})
        for code, value in (("8480-6", 142), ("8462-4", 91)):
            entries.append({"resource": {
                "resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "subject": {"reference": patient_urn},
                "encounter": {"reference": encounter_urn},
                "effectiveDateTime": "2026-11-20T09:05:00+07:00",
                "valueQuantity": {"value": value, "unit": "mmHg",
                                  "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
            }, "request": {"method": "POST", "url": "Observation"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


@dataclass(frozen=True)
class Measure:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    resources_per_request: int = 1

    @property
    def resources_per_second(self) -> float:
        return self.requests_per_second * self.resources_per_request


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def _scripts(directory: Path) -> dict[str, Path]:
    body = json.dumps(patient(0), ensure_ascii=False)
    bundle = json.dumps(transaction_bundle(), ensure_ascii=False)
    # Errors are counted from status codes: wrk's own "Non-2xx" line is the check.
    scripts = {
        "read": f"""
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/fhir/Patient/seed-" .. (counter % {SEED_PATIENTS}))
end
""",
        "create": f"""
wrk.method = "POST"
wrk.path = "/fhir/Patient"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Prefer"] = "return=minimal"
wrk.body = {_lua_string(body)}
""",
        "update": f"""
counter = 0
template = {_lua_string(body)}
request = function()
  counter = counter + 1
  local id = "seed-" .. (counter % {SEED_PATIENTS})
  local payload = template:gsub('"active": true', '"id": "' .. id .. '", "active": true, '
    .. '"multipleBirthInteger": ' .. counter)
  return wrk.format("PUT", "/fhir/Patient/" .. id,
    {{["Content-Type"] = "application/fhir+json", ["Prefer"] = "return=minimal",
      ["Authorization"] = wrk.headers["Authorization"]}}, payload)
end
""",
        "bundle": f"""
wrk.method = "POST"
wrk.path = "/fhir"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Prefer"] = "return=minimal"
wrk.body = {_lua_string(bundle)}
""",
    }
    paths = {}
    for name, text in scripts.items():
        path = directory / f"{name}.lua"
        path.write_text(text)
        paths[name] = path
    return paths


def _wrk(url: str, script: Path, seconds: int, connections: int, token: str
         ) -> tuple[float, float, float, int]:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s", "--latency",
         "-H", f"Authorization: Bearer {token}", "-s", str(script), url],
        capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _latency_ms(output, "50%")
    p99 = _latency_ms(output, "99%")
    errors_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", output)
    errors = int(errors_match.group(1)) if errors_match else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return rate, p50, p99, errors


def _latency_ms(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _database(backend: str, name: str | None = None, *, keep: bool = False) -> Iterator[str]:
    """A fresh, empty database; ``keep`` leaves a PostgreSQL one behind (for EXPLAIN)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="mor-bench-") as directory:
            yield f"sqlite:///{directory}/mor.db"
        return
    admin = os.environ.get("MOR_BENCH_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
    name = name or f"mor_bench_{os.getpid()}"
    asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if not keep:
            asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def _server(database_url: str, workers: int) -> Iterator[str]:
    port = _free_port()
    # No rate limit: the benchmark is one client asking as fast as mor answers.
    env = {**os.environ, "MOR_DATABASE_URL": database_url, "MOR_RATE_LIMIT": "0"}
    # Its own process group, so that a server stuck in a slow request can be killed with
    # all its workers.
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "mor"), "serve", "--port", str(port),
         "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/fhir/metadata", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mor did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # uvicorn waits for requests in flight, and a search can run for minutes.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def service_token(database_url: str) -> str:
    """A token of a backend service allowed everything, registered for this run (what
    'mor client add' and 'mor client token' give an operator)."""
    from mor.auth.clients import Clients
    from mor.auth.tokens import Tokens
    from mor.config import Settings
    from mor.db.engine import create_engine

    async def register() -> str:
        engine = create_engine(Settings(database_url=database_url))
        try:
            registered = await Clients(engine).add(
                "benchmark", scope="system/*.cruds",
                jwks={"keys": [ECKey.generate_key("P-384").as_dict(private=False)]})
            answer = await Tokens(engine).issue(
                client_id=registered.client.client_id, account_id=None,
                scope=registered.client.scope, access_seconds=12 * 3600)
            return str(answer["access_token"])
        finally:
            await engine.dispose()

    return asyncio.run(register())


def _seed(url: str, token: str) -> None:
    entries = [{"resource": {**patient(n), "id": f"seed-{n}"},
                "request": {"method": "PUT", "url": f"Patient/seed-{n}"}}
               for n in range(SEED_PATIENTS)]
    response = httpx.post(f"{url}/fhir", json={"resourceType": "Bundle", "type": "transaction",
                                               "entry": entries},
                          headers={"Prefer": "return=minimal",
                                   "Authorization": f"Bearer {token}"}, timeout=300)
    response.raise_for_status()


def run_backend(backend: str, seconds: int, connections: int, workers: int) -> list[Measure]:
    measures = []
    with tempfile.TemporaryDirectory() as scratch, _database(backend) as database_url:
        scripts = _scripts(Path(scratch))
        server_workers = workers if backend == "postgresql" else 1
        with _server(database_url, server_workers) as url:
            token = service_token(database_url)
            _seed(url, token)
            for name in ("create", "read", "update", "bundle"):
                # A Bundle is a hundred writes: a few at a time keep the server busy.
                clients = min(connections, 4) if name == "bundle" else connections
                rate, p50, p99, errors = _wrk(url, scripts[name], seconds, clients, token)
                size = BUNDLE_SIZE if name == "bundle" else 1
                measures.append(Measure(name, rate, p50, p99, errors, size))
                print(f"  {backend} {name}: {rate * size:,.0f}/s", file=sys.stderr)
    return measures


def publish(section: str, record: bool) -> None:
    """Print a benchmark's section, and with ``record`` append it to bench/RESULTS.md."""
    print(section)
    if record:
        with RESULTS.open("a") as results:
            results.write(section)


def _machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (f"{os.cpu_count()} cores ({cpu}), {memory_kb / 1024 / 1024:.0f} GiB, "
            f"Python {platform.python_version()}")


def _commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "mor"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return (result.stdout.strip() or "unknown") + (" + uncommitted changes" if dirty else "")


def report(results: dict[str, list[Measure]], command: str, workers: int) -> str:
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, mor {_commit()}",
        "",
        f"- machine: {_machine()}; server, database and load generator share it",
        f"- command: `{command}`",
        f"- server workers: {workers} on PostgreSQL, 1 on SQLite",
        f"- targets: {TARGETS}",
        "",
        "| backend | benchmark | throughput | p50 | p99 | errors |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for backend, measures in results.items():
        for m in measures:
            unit = "resources/s" if m.resources_per_request > 1 else "requests/s"
            lines.append(f"| {backend} | {m.name} | {m.resources_per_second:,.0f} {unit} | "
                         f"{m.p50_ms:.1f} ms | {m.p99_ms:.1f} ms | {m.errors} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark mor's FHIR CRUD and Bundle import.")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    results = {backend: run_backend(backend, args.seconds, args.connections, args.workers)
               for backend in args.backends.split(",")}
    command = "python bench/fhir_crud.py " + " ".join(sys.argv[1:])
    table = report(results, command.strip(), args.workers)
    print(table)
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nNewest last. Each section says the command "
                           "that produced it.\n\n")
    with RESULTS.open("a") as results_file:
        results_file.write("\n" + table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
