"""HTTP for bulk data export: kick-off, status polling, files, cancellation.

http://hl7.org/fhir/uv/bulkdata/ (Bulk Data Access 2.0): the kick-off answers
202 with the status URL in ``Content-Location``; the status URL answers 202
with ``X-Progress`` while the export runs, then 200 with the manifest; the
files are NDJSON; ``DELETE`` on the status URL cancels and removes the export.
"""

from __future__ import annotations

from typing import Any, Protocol

from starlette.responses import FileResponse, JSONResponse, Response

from mor.fhir.errors import BadRequest, MethodNotAllowed
from mor.fhir.permissions import Interaction
from mor.fhir.requests import FhirRequest
from mor.services.bulk_export import Accepted, BulkExport, parse_kickoff


def is_export_path(path: str) -> bool:
    segments = path.split("/")
    return (segments[-1] == "$export" or segments[0] in ("$export-status", "$export-file"))


async def answer(export: BulkExport, request: FhirRequest, prefer: str,
                 request_url: str) -> Response:
    # Status and files too: an export is the whole of what it covers, so only a caller
    # allowed to export may follow one.
    request.caller.check(Interaction.EXPORT, None)
    segments = request.path.split("/")
    if segments[0] == "$export-status" and len(segments) == 2:
        return await answer_status(export, request, segments[1])
    if segments[0] == "$export-file" and len(segments) == 3:
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed("Export files can only be read (GET)")
        path = await export.file(segments[1], segments[2])
        return FileResponse(path, media_type="application/fhir+ndjson")
    if request.method not in ("GET", "POST"):
        raise MethodNotAllowed(f"{request.method} is not allowed on $export; use GET or POST")
    params = list(request.params)
    if request.method == "POST":
        params += _parameters(request.body)
    kickoff = parse_kickoff(request.path, params, "respond-async" in prefer)
    job_id = await export.kick_off(kickoff, request_url, request.base_url)
    return Response(status_code=202, headers={
        "Content-Location": f"{request.base_url}/$export-status/{job_id}"})


class BulkJobs(Protocol):
    kind: str  # "export", "import"

    async def status(self, job_id: str) -> dict[str, Any]: ...

    async def cancel(self, job_id: str) -> None: ...


async def answer_status(jobs: BulkJobs, request: FhirRequest, job_id: str) -> Response:
    """A bulk job's status URL, export and import alike: DELETE cancels; GET answers 202
    with its progress while it runs, then its result."""
    if request.method == "DELETE":
        await jobs.cancel(job_id)
        return Response(status_code=202)
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(f"Poll an {jobs.kind} with GET, or cancel it with DELETE")
    try:
        result = await jobs.status(job_id)
    except Accepted as running:
        return Response(status_code=202, headers={"X-Progress": str(running)[:100],
                                                  "Retry-After": "1"})
    return JSONResponse(result)


def _parameters(body: Any) -> list[tuple[str, str]]:
    """Kick-off parameters POSTed as a FHIR Parameters resource."""
    if body is None:
        return []
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("POST $export takes a Parameters resource (or none)")
    found = []
    for parameter in body.get("parameter") or []:
        value = next((v for k, v in parameter.items() if k.startswith("value")), None)
        if not isinstance(value, str):
            raise BadRequest(f"Parameter {parameter.get('name')!r} needs a string value")
        found.append((str(parameter.get("name")), value))
    return found


__all__ = ["BulkJobs", "answer", "answer_status", "is_export_path"]
