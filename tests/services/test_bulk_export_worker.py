"""The export worker takes over jobs whose worker died, so an accepted export finishes
even when the server that accepted it was restarted."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select, update

from mor.db.schema import export_job
from mor.fhir.timestamps import now_micros
from mor.fhir.visibility import EVERYTHING
from mor.services.bulk_export import BulkExport, parse_kickoff
from mor.services.jobs import STALE_MICROS


async def test_a_job_left_behind_by_a_dead_worker_is_finished(
    client: httpx.AsyncClient, tmp_path: Path,
) -> None:
    response = await client.put("/Patient/left", json={"resourceType": "Patient", "id": "left"})
    assert response.status_code == 201
    store = client.app.state.store  # type: ignore[attr-defined]
    export = BulkExport(store, tmp_path)
    request = parse_kickoff("$export", [("_type", "Patient")], prefer_async=True)
    job_id = await export.kick_off(request, "http://mor.test/fhir/$export", "http://mor.test/fhir")
    # A worker claimed it, then its process died: the heartbeat stopped long ago.
    async with store.writing(EVERYTHING) as tx:
        await tx.conn.execute(update(export_job).where(export_job.c.id == job_id).values(
            status="in-progress", heartbeat=now_micros() - 2 * STALE_MICROS))
    assert await export.jobs.claim() == job_id
    # A second worker does not take a job that is being worked on.
    assert await BulkExport(store, tmp_path).jobs.claim() is None
    await export._run(job_id)
    manifest = await export.status(job_id)
    assert manifest["output"] == [{"type": "Patient", "count": 1,
                                   "url": f"http://mor.test/fhir/$export-file/{job_id}/"
                                          "Patient.ndjson"}]
    assert (tmp_path / job_id / "Patient.ndjson").read_text().count("\n") == 1
    async with store.reading(EVERYTHING) as tx:
        status = (await tx.conn.execute(
            select(export_job.c.status).where(export_job.c.id == job_id))).scalar()
    assert status == "completed"
