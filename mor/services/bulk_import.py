"""Bulk data import, as the Bulk Data Import "ping and pull" draft describes it
(https://github.com/smart-on-fhir/bulk-import/blob/master/import.md).

A kick-off (``POST $import``) names NDJSON files by URL; mor records a job and
answers at once. A worker inside each mor process picks jobs up, downloads each
file into a temporary file (streamed, so memory stays flat however big the
file) and loads it with :func:`mor.services.importing.import_paths`, the same
code as ``mor import``. Jobs live in the database, with a heartbeat, like
exports (:mod:`mor.services.bulk_export`): a job whose worker died is taken over.
Resources keep their ids, so a job taken over half way loads the same result.

mor fetches whatever http(s) URL the caller names. Only trusted backend services
may import at all; the operator should still give that right only to services
whose sources they trust.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from mor.config import Settings
from mor.db.schema import import_job
from mor.fhir.errors import BadRequest, FhirError, Issue
from mor.fhir.outcome import operation_outcome
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.store import Store
from mor.fhir.timestamps import instant_from_micros, now_micros
from mor.services.bulk_export import NDJSON_FORMATS, Accepted
from mor.services.importing import ImportReport, import_paths
from mor.services.jobs import Cancelled, JobQueue

log = logging.getLogger(__name__)

DOWNLOAD_CHUNK = 1 << 20
# How often a worker busy loading a file tells the database it is alive.
HEARTBEAT_SECONDS = 5.0
# Rejected lines reported per input: the status body lives in one database row.
MAX_ISSUES = 1000


@dataclass(frozen=True, slots=True)
class ImportInput:
    type: str
    url: str


@dataclass(frozen=True, slots=True)
class ImportRequest:
    input_source: str
    inputs: tuple[ImportInput, ...]


def parse_kickoff(body: Any, prefer_async: bool) -> ImportRequest:
    """Read a kick-off body: the draft's JSON object, or the same as a Parameters resource."""
    if not prefer_async:
        raise BadRequest("$import runs in the background: send 'Prefer: respond-async', then "
                         "poll the Content-Location of the 202 answer")
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        body = _from_parameters(body)
    if not isinstance(body, dict):
        raise BadRequest('$import takes a JSON body: {"inputFormat": '
                         '"application/fhir+ndjson", "inputSource": "...", "input": '
                         '[{"type": "Patient", "url": "https://..."}]}')
    input_format = body.get("inputFormat")
    if input_format is None:
        raise BadRequest("inputFormat is missing; mor reads application/fhir+ndjson")
    if input_format not in NDJSON_FORMATS:
        raise BadRequest(f"inputFormat {input_format!r} is not supported; mor reads "
                         "application/fhir+ndjson")
    input_source = body.get("inputSource")
    if not isinstance(input_source, str) or not input_source:
        raise BadRequest("inputSource is missing: the URI of the system the data comes from")
    storage = body.get("storageDetail")
    if storage is not None and (not isinstance(storage, dict) or
                                storage.get("type", "https") != "https"):
        raise BadRequest("storageDetail: mor downloads inputs over http(s) only "
                         '({"type": "https"})')
    entries = body.get("input")
    if not isinstance(entries, list) or not entries:
        raise BadRequest("input is missing: a list of {type, url}, one per NDJSON file")
    inputs = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise BadRequest(f"input {number} is not an object with type and url")
        resource_type, url = entry.get("type"), entry.get("url")
        if resource_type not in RESOURCE_TYPES:
            raise BadRequest(f"input {number}: type {resource_type!r} is not a FHIR R4 "
                             "resource type")
        if resource_type == "AuditEvent":
            # An import overwrites resources by id: the record of what happened is
            # added to by mor, never rewritten.
            raise BadRequest(f"input {number}: AuditEvents cannot be imported; they are "
                             "the record of what happened here")
        if not isinstance(url, str) or httpx.URL(url).scheme not in ("http", "https") or (
                not httpx.URL(url).host):
            raise BadRequest(f"input {number}: url {url!r} is not accepted; mor downloads "
                             "inputs from http:// or https:// URLs only")
        inputs.append(ImportInput(str(resource_type), url))
    return ImportRequest(input_source, tuple(inputs))


def _from_parameters(body: dict[str, Any]) -> dict[str, Any]:
    """The draft's JSON object from its Parameters form (input given as parts)."""
    found: dict[str, Any] = {"input": []}
    for parameter in body.get("parameter") or []:
        name = parameter.get("name")
        if name == "input":
            found["input"].append({part.get("name"): _value(part)
                                   for part in parameter.get("part") or []})
        elif name == "storageDetail":
            found[name] = {part.get("name"): _value(part)
                           for part in parameter.get("part") or []}
        elif isinstance(name, str):
            found[name] = _value(parameter)
    return found


def _value(parameter: dict[str, Any]) -> Any:
    return next((v for k, v in parameter.items() if k.startswith("value")), None)


class BulkImport:
    """Kick-off, status, cancellation and the worker that runs the jobs."""

    kind = "import"

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        # Next to the export files: both are mor's own scratch space.
        self.directory = settings.export_dir.parent / "imports"
        self.jobs = JobQueue(store, import_job, "import")

    async def kick_off(self, request: ImportRequest, request_url: str) -> str:
        job_id = str(uuid.uuid4())
        saved = {"inputSource": request.input_source,
                 "input": [{"type": i.type, "url": i.url} for i in request.inputs]}
        await self.jobs.add(id=job_id, request=orjson.dumps(saved).decode(),
                            transaction_time=now_micros(), request_url=request_url)
        return job_id

    async def status(self, job_id: str) -> dict[str, Any]:
        """The result of a finished job; raises Accepted while it runs."""
        row = await self.jobs.get(job_id)
        if row.status in ("accepted", "in-progress"):
            raise Accepted(row.progress or "waiting for a worker")
        if row.status == "failed":
            raise FhirError(f"The import failed: {row.error}")
        result = orjson.loads(row.output or "{}")
        return {
            "transactionTime": instant_from_micros(row.transaction_time),
            "request": row.request_url,
            "output": result.get("output", []),
            "error": result.get("error", []),
        }

    async def cancel(self, job_id: str) -> None:
        """Stops the job; what it loaded already stays (the draft allows no roll-back)."""
        await self.jobs.get(job_id)
        await self.jobs.delete(job_id)

    # -- the worker ---------------------------------------------------------------------------

    async def run_forever(self) -> None:
        await self.jobs.run_forever(self._run)

    async def _run(self, job_id: str) -> None:
        row = await self.jobs.get(job_id)
        inputs = [ImportInput(**item) for item in orjson.loads(row.request)["input"]]
        self.directory.mkdir(parents=True, exist_ok=True)
        output: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        try:
            for number, item in enumerate(inputs, 1):
                where = f"input {number} of {len(inputs)} ({item.type})"
                # The suffix tells import_paths that the file is NDJSON.
                path = self.directory / f"{job_id}-{number}.ndjson"
                loaded, failed, issues = await self._run_input(job_id, item, where, path)
                output.append({"type": "OperationOutcome", "inputUrl": item.url,
                               "count": loaded})
                if issues:
                    errors.append({"type": "OperationOutcome", "inputUrl": item.url,
                                   "count": failed,
                                   # mor's addition: the outcome inline rather than in a
                                   # file of its own, as it is small (MAX_ISSUES at most).
                                   "outcome": operation_outcome(issues)})
        except Cancelled:
            return
        except Exception as error:
            log.exception("Import %s failed", job_id)
            await self.jobs.finish(job_id, "failed", error=str(error) or type(error).__name__)
            return
        await self.jobs.finish(job_id, "completed",
                           output=orjson.dumps({"output": output, "error": errors}).decode())

    async def _run_input(self, job_id: str, item: ImportInput, where: str, path: Path
                         ) -> tuple[int, int, list[Issue]]:
        """Download and load one input: how many resources it loaded, how many lines (or
        downloads) failed, and what went wrong."""
        try:
            await self.jobs.heartbeat(job_id, f"{where}: downloading")
            failure = await self._download(job_id, item.url, path, where)
            if failure is not None:
                return 0, 1, [Issue(failure, code="exception")]
            await self.jobs.heartbeat(job_id, f"{where}: loading")
            report = await self._load(job_id, path, where, item.type)
        finally:
            path.unlink(missing_ok=True)
        # In the file's order: unreadable lines are rejected as read, invalid resources
        # only when their chunk is written.
        rejected = sorted(report.rejected, key=lambda rejection: _line(rejection.where))
        issues = [Issue(f"line {_line(rejection.where)}: {rejection.reason}")
                  for rejection in rejected[:MAX_ISSUES]]
        if len(report.rejected) > MAX_ISSUES:
            issues.append(Issue(f"... and {len(report.rejected) - MAX_ISSUES:,} more lines "
                                "rejected", severity="information", code="informational"))
        return report.total_loaded, len(rejected), issues

    async def _download(self, job_id: str, url: str, path: Path, where: str) -> str | None:
        """Streams the file to ``path``; why it could not, or None."""
        try:
            async with httpx.AsyncClient(follow_redirects=True, timeout=60) as http, \
                    http.stream("GET", url) as response:
                if response.status_code != 200:
                    return (f"Could not download {url}: the source answered "
                            f"{response.status_code} {response.reason_phrase}")
                size = 0
                with path.open("wb") as out:
                    async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK):
                        out.write(chunk)
                        size += len(chunk)
                        await self.jobs.heartbeat(job_id, f"{where}: {size:,} bytes downloaded")
        except httpx.HTTPError as error:
            return f"Could not download {url}: {error or type(error).__name__}"
        return None

    async def _load(self, job_id: str, path: Path, where: str, resource_type: str
                    ) -> ImportReport:
        # Loading a large file takes long with no point to report back from: the heartbeat
        # beats beside it, and a DELETE of the job stops it there.
        loading = asyncio.create_task(import_paths(self.settings, [path], workers=0,
                                                   only_type=resource_type))
        try:
            while not loading.done():
                await asyncio.wait({loading}, timeout=HEARTBEAT_SECONDS)
                await self.jobs.heartbeat(job_id, f"{where}: loading")
        except BaseException:
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loading
            raise
        return loading.result()


def _line(where: str) -> int:
    """The line number in ``/.../job-1.ndjson:7`` (where import_paths found the line)."""
    _, _, number = where.rpartition(":")
    return int(number) if number.isdigit() else 0
