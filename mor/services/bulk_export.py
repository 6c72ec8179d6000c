"""Bulk data export, as FHIR Bulk Data Access (Flat FHIR) 2.0 describes it.

A kick-off (``$export`` at the system, ``Patient`` or ``Group/[id]`` level)
records a job and answers at once; a worker inside each mor process picks jobs
up, writes one NDJSON file per resource type, and the client polls the status
URL until the manifest lists the files. Jobs live in the database: a job whose
worker died (a restart, a crash) is taken over by another once its heartbeat is
stale, so an accepted export is never lost. Files are written a batch of rows at
a time, so memory stays flat however big the export.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import ColumnElement, false, select

from mor.db.schema import export_job, resource
from mor.fhir.errors import BadRequest, FhirError, NotFound
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.search.compartments import in_compartment, members
from mor.fhir.search.conditions import Scope
from mor.fhir.search.values import date_value
from mor.fhir.store import Store
from mor.fhir.timestamps import instant_from_micros, now_micros
from mor.fhir.visibility import EVERYTHING
from mor.services.jobs import Cancelled, JobQueue

log = logging.getLogger(__name__)

NDJSON_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
BATCH = 1000


class Accepted(FhirError):
    """Not an error: the status of a job still running (202, with its progress)."""

    status = 202


@dataclass(frozen=True, slots=True)
class ExportRequest:
    level: str  # system, patient or group
    group_id: str | None
    types: tuple[str, ...] | None
    since: int | None


def parse_kickoff(path: str, params: Sequence[tuple[str, str]], prefer_async: bool
                  ) -> ExportRequest:
    """Read a kick-off request: ``$export``, ``Patient/$export`` or ``Group/x/$export``."""
    segments = path.split("/")
    if segments == ["$export"]:
        level, group_id = "system", None
    elif segments == ["Patient", "$export"]:
        level, group_id = "patient", None
    elif len(segments) == 3 and segments[0] == "Group" and segments[2] == "$export":
        level, group_id = "group", segments[1]
    else:
        raise BadRequest(f"{path}: $export runs at the base, on Patient or on Group/[id]")
    if not prefer_async:
        raise BadRequest("$export runs in the background: send 'Prefer: respond-async', then "
                         "poll the Content-Location of the 202 answer")
    types: list[str] = []
    since = None
    for name, value in params:
        if name == "_outputFormat":
            if value not in NDJSON_FORMATS:
                raise BadRequest(f"_outputFormat {value!r} is not offered; mor writes "
                                 "application/fhir+ndjson")
        elif name == "_type":
            for item in value.split(","):
                if item not in RESOURCE_TYPES:
                    raise BadRequest(f"_type: '{item}' is not a FHIR R4 resource type")
                types.append(item)
        elif name == "_since":
            since = date_value("_since", value)[0]
        else:
            raise BadRequest(f"$export does not support the parameter '{name}'; it takes "
                             "_outputFormat, _type and _since")
    if level != "system":
        allowed = {"Patient", *members("Patient")}
        outside = [t for t in types if t not in allowed]
        if outside:
            raise BadRequest(f"_type: {', '.join(outside)} never belong to a patient; a "
                             f"{level}-level export only has types of the Patient compartment")
    return ExportRequest(level, group_id, tuple(dict.fromkeys(types)) or None, since)


class BulkExport:
    """Kick-off, status, cancellation and the worker that runs the jobs."""

    kind = "export"

    def __init__(self, store: Store, directory: Path) -> None:
        self.store = store
        self.directory = directory
        self.jobs = JobQueue(store, export_job, "export")

    async def kick_off(self, request: ExportRequest, request_url: str, base_url: str) -> str:
        if request.group_id is not None:
            async with self.store.reading(EVERYTHING) as tx:
                await tx.read("Group", request.group_id)  # 404 before accepting the job
        job_id = str(uuid.uuid4())
        await self.jobs.add(
            id=job_id, level=request.level, group_id=request.group_id,
            types=None if request.types is None else orjson.dumps(request.types).decode(),
            since=request.since, transaction_time=now_micros(), request_url=request_url,
            base_url=base_url)
        return job_id

    async def status(self, job_id: str) -> dict[str, Any]:
        """The manifest of a finished job; raises Accepted while it runs."""
        row = await self.jobs.get(job_id)
        if row.status in ("accepted", "in-progress"):
            raise Accepted(row.progress or "waiting for a worker")
        if row.status == "failed":
            raise FhirError(f"The export failed: {row.error}")
        return {
            "transactionTime": instant_from_micros(row.transaction_time),
            "request": row.request_url,
            # The files are served only to a caller with a token allowed to export.
            "requiresAccessToken": True,
            "output": orjson.loads(row.output or "[]"),
            "error": [],
        }

    async def cancel(self, job_id: str) -> None:
        await self.jobs.get(job_id)
        await self.jobs.delete(job_id)
        shutil.rmtree(self._job_directory(job_id), ignore_errors=True)

    async def file(self, job_id: str, name: str) -> Path:
        row = await self.jobs.get(job_id)
        names = {Path(item["url"]).name for item in orjson.loads(row.output or "[]")}
        if row.status != "completed" or name not in names:
            raise NotFound(f"Export {job_id} has no file {name}")
        return self._job_directory(job_id) / name

    def _job_directory(self, job_id: str) -> Path:
        return self.directory / job_id

    # -- the worker ---------------------------------------------------------------------------

    async def run_forever(self) -> None:
        await self.jobs.run_forever(self._run)

    async def _run(self, job_id: str) -> None:
        row = await self.jobs.get(job_id)
        directory = self._job_directory(job_id)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        types = orjson.loads(row.types) if row.types else None
        try:
            owners = await self._owners(row)
            output = []
            for resource_type in _export_types(row.level, types):
                count = await self._write_type(job_id, row, resource_type, owners, directory)
                if count:
                    output.append({"type": resource_type, "count": count,
                                   "url": f"{row.base_url}/$export-file/{job_id}/"
                                          f"{resource_type}.ndjson"})
        except Cancelled:
            shutil.rmtree(directory, ignore_errors=True)
            return
        except Exception as error:
            log.exception("Export %s failed", job_id)
            await self.jobs.finish(job_id, "failed", error=str(error) or type(error).__name__)
            return
        await self.jobs.finish(job_id, "completed", output=orjson.dumps(output).decode())

    async def _owners(self, row: Any) -> list[str] | None:
        if row.level != "group":
            return None
        async with self.store.reading(EVERYTHING) as tx:
            group = (await tx.read("Group", row.group_id)).resource()
        owners = []
        for member in group.get("member") or []:
            reference = (member.get("entity") or {}).get("reference", "")
            if reference.startswith("Patient/"):
                owners.append(reference.split("/")[1])
        return owners

    async def _write_type(self, job_id: str, row: Any, resource_type: str,
                          owners: list[str] | None, directory: Path) -> int:
        conditions: list[ColumnElement[bool]] = [
            resource.c.resource_type == resource_type, resource.c.deleted == false(),
            resource.c.last_updated <= row.transaction_time]
        if row.since is not None:
            conditions.append(resource.c.last_updated >= row.since)
        if row.level != "system":
            conditions.append(in_compartment(Scope(resource, (resource_type,)), "Patient",
                                             owners))
        path = directory / f"{resource_type}.ndjson"
        count = 0
        last_pk = 0
        with path.open("wb") as out:
            while True:
                async with self.store.reading(EVERYTHING) as tx:
                    rows = await tx.rows(
                        select(resource.c.pk, resource.c.content)
                        .where(*conditions, resource.c.pk > last_pk)
                        .order_by(resource.c.pk).limit(BATCH))
                if not rows:
                    break
                for _, content in rows:
                    out.write(content.encode() + b"\n")
                count += len(rows)
                last_pk = rows[-1][0]
                await self.jobs.heartbeat(job_id, f"{resource_type}: {count} resources written")
        if count == 0:
            path.unlink()
        return count


def _export_types(level: str, types: list[str] | None) -> list[str]:
    if level == "system":
        return sorted(types or RESOURCE_TYPES)
    allowed = ["Patient", *members("Patient")]
    return sorted(t for t in allowed if types is None or t in types)
