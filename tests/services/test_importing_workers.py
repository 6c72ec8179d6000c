"""Importing with worker processes (what ``mor import`` does for large files), on SQLite
and PostgreSQL: the same resources, index and rejections as importing in one process."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from mor.config import Settings
from mor.services.importing import CHUNK_SIZE, import_paths


def _patients_file(path: Path, count: int) -> Path:
    lines = [orjson.dumps({"resourceType": "Patient", "id": f"w{n}",
                           "name": [{"family": "Sisouphanh" if n % 2 else "Wongsa"}]})
             for n in range(count)]
    lines.insert(7, b'{"resourceType": "Patient", "id": "bad", "birthDate": 1990}')
    lines.insert(CHUNK_SIZE + 3, b"[1, 2, 3]")
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


async def _count(client: httpx.AsyncClient, query: str) -> int:
    response = await client.get(f"/Patient?{query}&_summary=count")
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def test_workers_import_and_index_every_chunk_and_report_rejections(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    count = 3 * CHUNK_SIZE + 17  # several chunks in flight, and a short last one
    file = _patients_file(tmp_path / "patients.ndjson", count)

    report = await import_paths(settings, [file], workers=2)

    assert report.loaded == {"Patient": count}
    reasons = {rejection.where: rejection.reason for rejection in report.rejected}
    assert set(reasons) == {f"{file}:8", f"{file}:{CHUNK_SIZE + 4}"}
    assert "birthDate" in reasons[f"{file}:8"]
    assert "not a JSON object" in reasons[f"{file}:{CHUNK_SIZE + 4}"]
    assert await _count(client, "family=sisouphanh") == count // 2
    assert await _count(client, "family=wongsa") == count - count // 2

    again = await import_paths(settings, [file], workers=2)
    assert again.loaded == {"Patient": count}
    history = await client.get("/Patient/w1/_history")
    assert len(history.json()["entry"]) == 1, "an unchanged resource gets no new version"
