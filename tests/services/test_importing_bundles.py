"""Importing a collection Bundle an entry at a time (on SQLite and PostgreSQL): an
interrupted import resumes at the entry where it stopped, and a broken file keeps the
entries before the error."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from mor.config import Settings
from mor.services import importing
from mor.services.importing import Checkpoints, import_paths


def _unnamed_patients(count: int, *, type_after_entries: bool) -> bytes:
    """A collection Bundle of patients without ids: importing one twice makes two."""
    entries = b'"entry": ' + orjson.dumps([
        {"resource": {"resourceType": "Patient", "gender": "female",
                      "name": [{"family": f"Kham {n}"}]}} for n in range(count)])
    kind = b'"type": "collection"'
    return (b'{"resourceType": "Bundle", '
            + (entries + b", " + kind if type_after_entries else kind + b", " + entries)
            + b"}")


async def _patients(client: httpx.AsyncClient) -> int:
    response = await client.get("/Patient", params={"_summary": "count"})
    return int(response.json()["total"])


class Interrupted(Exception):
    """The operator pressed Ctrl-C."""


async def test_an_interrupted_bundle_import_resumes_without_duplicates(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file = tmp_path / "patients.json"
    file.write_bytes(_unnamed_patients(1200, type_after_entries=True))
    checkpoints = Checkpoints(tmp_path / "checkpoints", settings.database_url)
    original = importing._write_chunk
    calls = 0

    async def failing_second_chunk(*args: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Interrupted
        await original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(importing, "_write_chunk", failing_second_chunk)
    with pytest.raises(Interrupted):
        await import_paths(settings, [file], checkpoints=checkpoints)
    monkeypatch.setattr(importing, "_write_chunk", original)
    assert await _patients(client) == importing.CHUNK_SIZE

    report = await import_paths(settings, [file], checkpoints=checkpoints)
    assert report.resumed == {str(file): f"entry {importing.CHUNK_SIZE}"}
    assert report.loaded == {"Patient": 1200 - importing.CHUNK_SIZE}
    assert report.rejected == []
    assert await _patients(client) == 1200
    # Done: the checkpoint is gone, so a third run starts over.
    assert checkpoints.start(file) == 0


async def test_a_broken_bundle_keeps_the_entries_before_the_error(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path,
) -> None:
    # (Were its type after the entries, the type could not be read: nothing would be loaded.)
    whole = _unnamed_patients(700, type_after_entries=False)
    file = tmp_path / "truncated.json"
    file.write_bytes(whole[: whole.index(b"Kham 650")])  # cut in the middle of entry 650
    report = await import_paths(settings, [file])
    assert report.loaded == {"Patient": 650}
    assert [rejection.where for rejection in report.rejected] == [str(file)]
    assert report.rejected[0].reason.startswith("not valid JSON before byte ")
    assert report.rejected[0].reason.endswith("(after 650 entries)")
    assert await _patients(client) == 650
