"""The mor command: help, schema upgrade and importing files."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from mor.cli import app
from mor.config import Settings
from mor.db.engine import create_engine
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING

runner = CliRunner()


def _env(tmp_path: Path) -> dict[str, str]:
    return {"MOR_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def _patient(number: int) -> dict[str, object]:
    return {"resourceType": "Patient", "id": f"vte-{number}",
            "name": [{"family": "ສີສະຫວາດ", "given": [f"ຄຳ {number}"]}]}


def _read(tmp_path: Path, resource_type: str, resource_id: str) -> dict[str, object] | None:
    async def read() -> dict[str, object] | None:
        engine = create_engine(Settings(database_url=_env(tmp_path)["MOR_DATABASE_URL"]))
        try:
            async with Store(engine).reading(EVERYTHING) as tx:
                try:
                    return (await tx.read(resource_type, resource_id)).resource()
                except Exception:
                    return None
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "db", "import"):
        assert command in result.output


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"], env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    assert (tmp_path / "cli.db").exists()


def test_a_bad_database_url_is_explained(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"], env={"MOR_DATABASE_URL": "mysql://x/y"})
    assert result.exit_code != 0


def test_import_loads_ndjson_bundles_and_single_resources(tmp_path: Path) -> None:
    ndjson = tmp_path / "patients.ndjson"
    ndjson.write_bytes(b"\n".join(orjson.dumps(_patient(n)) for n in range(3)) + b"\n")
    collection = tmp_path / "collection.json"
    collection.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                      "entry": [{"resource": _patient(10)}]}))
    single = tmp_path / "org.json"
    single.write_text(json.dumps({"resourceType": "Organization", "id": "vte-hc-1",
                                  "name": "Chanthabouly health centre"}))
    result = runner.invoke(app, ["import", str(ndjson), str(collection), str(single)],
                           env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "Loaded 5, rejected 0" in result.output
    assert _read(tmp_path, "Patient", "vte-10") is not None
    assert _read(tmp_path, "Organization", "vte-hc-1") is not None


def test_import_reports_what_it_rejected_and_why(tmp_path: Path) -> None:
    ndjson = tmp_path / "mixed.ndjson"
    ndjson.write_bytes(orjson.dumps(_patient(1)) + b"\n{broken\n"
                       + orjson.dumps({"resourceType": "Patient", "id": "bad",
                                       "gender": 3}) + b"\n")
    result = runner.invoke(app, ["import", str(ndjson)], env=_env(tmp_path))
    assert result.exit_code == 1
    assert "Loaded 1, rejected 2" in result.output
    assert "mixed.ndjson:2" in result.output
    assert "mixed.ndjson:3" in result.output
    assert _read(tmp_path, "Patient", "vte-1") is not None
    assert _read(tmp_path, "Patient", "bad") is None


def test_import_of_a_transaction_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "transaction.json"
    bundle.write_text(json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": _patient(5), "request": {"method": "PUT", "url": "Patient/vte-5"}}]}))
    result = runner.invoke(app, ["import", str(bundle)], env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "Loaded 1, rejected 0" in result.output


def test_import_of_a_broken_bundle_loads_the_entries_before_the_error(tmp_path: Path) -> None:
    bundle = orjson.dumps({"resourceType": "Bundle", "type": "collection",
                           "entry": [{"resource": _patient(n)} for n in range(3)]})
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(bundle[: bundle.index(b"vte-2")])
    result = runner.invoke(app, ["import", str(truncated)], env=_env(tmp_path))
    assert result.exit_code == 1
    assert "Loaded 2, rejected 1" in result.output
    output = " ".join(result.output.split())  # as it reads, wherever the console wrapped
    assert (f"truncated.json: not valid JSON before byte {truncated.stat().st_size}: "
            "parse error: premature EOF (after 2 entries)") in output
    assert _read(tmp_path, "Patient", "vte-1") is not None


def test_import_of_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", str(tmp_path / "nope.json")], env=_env(tmp_path))
    assert result.exit_code == 2
    assert "No such file" in result.output


def test_importing_the_same_file_twice_changes_nothing(tmp_path: Path) -> None:
    ndjson = tmp_path / "p.ndjson"
    ndjson.write_bytes(orjson.dumps(_patient(1)) + b"\n")
    runner.invoke(app, ["import", str(ndjson)], env=_env(tmp_path))
    runner.invoke(app, ["import", str(ndjson)], env=_env(tmp_path))
    patient = _read(tmp_path, "Patient", "vte-1")
    assert patient is not None
    assert patient["meta"]["versionId"] == "1"  # type: ignore[index]


def test_reindex_restores_search_index_rows(tmp_path: Path) -> None:
    """A database written by an earlier version (here: index rows lost) is searchable again
    after ``mor db reindex``."""
    file = tmp_path / "patients.ndjson"
    file.write_text("\n".join(json.dumps(_patient(n)) for n in range(3)) + "\n")
    env = _env(tmp_path)
    assert runner.invoke(app, ["import", str(file)], env=env).exit_code == 0
    settings = Settings(database_url=env["MOR_DATABASE_URL"])

    async def family_matches() -> int:
        from mor.fhir.search import compile_search

        engine = create_engine(settings)
        try:
            async with Store(engine).reading(EVERYTHING) as tx:
                return len(await tx.find(compile_search("Patient", [("family", "ສີ")]).query,
                                         limit=10))
        finally:
            await engine.dispose()

    async def drop_index() -> None:
        from mor.db.schema import INDEX_TABLES

        engine = create_engine(settings)
        try:
            async with Store(engine).writing(EVERYTHING) as tx:
                for table in INDEX_TABLES.values():
                    await tx.conn.execute(table.delete())
        finally:
            await engine.dispose()

    assert asyncio.run(family_matches()) == 3
    asyncio.run(drop_index())
    assert asyncio.run(family_matches()) == 0
    result = runner.invoke(app, ["db", "reindex"], env=env)
    assert result.exit_code == 0, result.output
    assert "Reindexed 3 resources" in result.output
    assert asyncio.run(family_matches()) == 3


def test_an_interrupted_import_resumes_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mor.services import importing

    # No ids: importing a line twice would make two patients.
    file = tmp_path / "no-ids.ndjson"
    file.write_text("".join(json.dumps({"resourceType": "Patient", "gender": "female",
                                        "name": [{"family": f"Kham {n}"}]}) + "\n"
                            for n in range(1200)))
    env = {**_env(tmp_path), "MOR_EXPORT_DIR": str(tmp_path / "state" / "exports")}
    original = importing._write_chunk
    calls = 0

    async def failing_second_chunk(*args: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C during the second chunk
        await original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(importing, "_write_chunk", failing_second_chunk)
    assert runner.invoke(app, ["import", str(file)], env=env).exit_code != 0
    monkeypatch.setattr(importing, "_write_chunk", original)
    # The same file into another database is a new import, not a resumed one.
    other = {**env, "MOR_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"}
    fresh = runner.invoke(app, ["import", str(file)], env=other)
    assert "Resumed" not in fresh.output and "Loaded 1200" in fresh.output
    result = runner.invoke(app, ["import", str(file)], env=env)
    assert result.exit_code == 0, result.output
    assert "Resumed" in result.output
    assert "Loaded 700" in result.output
    assert _count_resources(tmp_path) == 1200
    # Done: a third run starts over (and, with no ids, adds everything again).
    again = runner.invoke(app, ["import", str(file)], env=env)
    assert "Resumed" not in again.output and "Loaded 1200" in again.output


def _count_resources(tmp_path: Path) -> int:
    async def count() -> int:
        engine = create_engine(Settings(database_url=_env(tmp_path)["MOR_DATABASE_URL"]))
        try:
            async with Store(engine).reading(EVERYTHING) as tx:
                return await tx.count_current()
        finally:
            await engine.dispose()
    return asyncio.run(count())
