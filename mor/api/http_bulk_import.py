"""HTTP for bulk data import: kick-off, status polling, cancellation.

The Bulk Data Import "ping and pull" draft: ``POST $import`` answers 202 with the
status URL in ``Content-Location``; the status URL answers 202 with ``X-Progress``
while the import runs, then 200 with the result (per input the resources loaded,
and the rejected lines as OperationOutcomes); ``DELETE`` on it cancels the import.
"""

from __future__ import annotations

from starlette.responses import Response

from mor.api.http_bulk_export import answer_status
from mor.fhir.errors import MethodNotAllowed
from mor.fhir.permissions import Interaction
from mor.fhir.requests import FhirRequest
from mor.services.bulk_import import BulkImport, parse_kickoff


def is_import_path(path: str) -> bool:
    segments = path.split("/")
    return path == "$import" or segments[0] == "$import-status"


async def answer(importer: BulkImport, request: FhirRequest, prefer: str,
                 request_url: str) -> Response:
    # Status too: it tells what was written where, which is the importer's business.
    request.caller.check(Interaction.IMPORT, None)
    segments = request.path.split("/")
    if segments[0] == "$import-status" and len(segments) == 2:
        return await answer_status(importer, request, segments[1])
    if request.path != "$import":
        raise MethodNotAllowed(f"{request.path}: the import status is at $import-status/[id]")
    if request.method != "POST":
        raise MethodNotAllowed(f"{request.method} is not allowed on $import; use POST")
    kickoff = parse_kickoff(request.body, "respond-async" in prefer)
    job_id = await importer.kick_off(kickoff, request_url)
    return Response(status_code=202, headers={
        "Content-Location": f"{request.base_url}/$import-status/{job_id}"})


__all__ = ["answer", "is_import_path"]
