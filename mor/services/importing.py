"""Loading FHIR resources from files into the store (``mor import``).

Accepts single resources, Bundles and NDJSON. Transaction and batch Bundles
are processed as the FHIR API would process them; the entries of other
Bundles (collection, searchset) are loaded one by one. A resource with an id
keeps it (update-as-create), so importing the same file twice changes nothing.
Resources are written in chunks, each in one database transaction with a
savepoint per resource, so one bad resource is rejected without losing its
neighbours and without a commit per resource.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from sqlalchemy.ext.asyncio import AsyncEngine

from mor.config import Settings
from mor.db.engine import create_engine
from mor.db.schema import INDEX_TABLES, resource
from mor.fhir.errors import FhirError
from mor.fhir.interactions import dispatch
from mor.fhir.requests import FhirRequest
from mor.fhir.store import NewResource, Store, prepare_new

CHUNK_SIZE = 500


@dataclass(frozen=True, slots=True)
class Rejection:
    where: str
    reason: str


@dataclass(slots=True)
class ImportReport:
    loaded: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejection] = field(default_factory=list)
    # NDJSON files resumed from a checkpoint, and the byte offset they resumed at.
    resumed: dict[str, int] = field(default_factory=dict)

    @property
    def total_loaded(self) -> int:
        return sum(self.loaded.values())


@dataclass(frozen=True, slots=True)
class _Item:
    where: str
    resource: Any
    # For NDJSON: the byte offset just after this line, where a resumed import starts.
    offset: int | None = None


class Checkpoints:
    """How far each NDJSON file got, so an interrupted import resumes where it stopped.

    A checkpoint is kept per database and file (by absolute path, size and modification
    time: a changed file starts over) and removed when the file is done.
    """

    def __init__(self, directory: Path, database_url: str) -> None:
        self.directory = directory
        # Part of the key: the same file imported into another database starts over.
        self.database_url = database_url

    def _file(self, path: Path) -> Path:
        key = hashlib.sha256(f"{self.database_url}\n{path.resolve()}".encode()).hexdigest()[:32]
        return self.directory / f"{key}.json"

    @staticmethod
    def _identity(path: Path) -> list[int]:
        stat = path.stat()
        return [stat.st_size, stat.st_mtime_ns]

    def start(self, path: Path) -> int:
        try:
            saved = orjson.loads(self._file(path).read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return 0
        if saved.get("identity") != self._identity(path):
            return 0
        return int(saved["offset"])

    def save(self, path: Path, offset: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        file = self._file(path)
        temporary = file.with_suffix(".tmp")
        temporary.write_bytes(orjson.dumps({"path": str(path.resolve()), "offset": offset,
                                            "identity": self._identity(path)}))
        temporary.replace(file)  # atomic: a crash leaves the old checkpoint or the new

    def done(self, path: Path) -> None:
        self._file(path).unlink(missing_ok=True)


async def import_paths(
    settings: Settings, paths: list[Path], *, console: Console | None = None,
    checkpoints: Checkpoints | None = None,
) -> ImportReport:
    engine = create_engine(settings)
    try:
        store = Store(engine)
        report = ImportReport()
        total_bytes = sum(path.stat().st_size for path in paths)
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
            TimeRemainingColumn(), console=console, disable=console is None, transient=True,
        ) as progress:
            task = progress.add_task("Importing", total=total_bytes)
            for path in paths:
                progress.update(task, description=f"Importing {path.name}")
                start = checkpoints.start(path) if checkpoints and _is_ndjson(path) else 0
                if start:
                    report.resumed[str(path)] = start
                    progress.advance(task, start)
                position = start

                def committed(offset: int | None, path: Path = path) -> None:
                    nonlocal position
                    if offset is None:
                        return
                    progress.advance(task, offset - position)
                    position = offset
                    if checkpoints is not None:
                        checkpoints.save(path, offset)

                await import_items(store, _items(path, report, start), report, committed)
                progress.advance(task, path.stat().st_size - position)
                if checkpoints is not None:
                    checkpoints.done(path)
        await _refresh_statistics(engine)
        return report
    finally:
        await engine.dispose()


async def _refresh_statistics(engine: AsyncEngine) -> None:
    """After a bulk load PostgreSQL's planner still believes the tables are small and picks
    nested loops many times slower; autovacuum would fix that only minutes later."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in (resource, *INDEX_TABLES.values()):
            await conn.exec_driver_sql(f"ANALYZE {table.name}")


async def import_items(store: Store, items: Iterator[_Item], report: ImportReport,
                       committed: Callable[[int | None], None] = lambda _: None) -> None:
    """Write the items in chunks; ``committed`` learns the offset each commit reached."""
    chunk: list[_Item] = []
    chunks = 0
    for item in items:
        resource = item.resource
        if isinstance(resource, dict) and resource.get("resourceType") == "Bundle" and (
            resource.get("type") in ("transaction", "batch")
        ):
            await _write_chunk(store, chunk, report)
            chunk = []
            await _import_bundle(store, item, report)
            committed(item.offset)
            continue
        chunk.append(item)
        if len(chunk) >= CHUNK_SIZE:
            await _write_chunk(store, chunk, report)
            committed(chunk[-1].offset)
            chunk = []
            chunks += 1
            if chunks & (chunks - 1) == 0:
                # After 1, 2, 4, 8 ... chunks: as the tables grow the planner must know it,
                # or each chunk's lookup of existing ids becomes a full scan.
                await _refresh_statistics(store.engine)
    await _write_chunk(store, chunk, report)
    if chunk:
        committed(chunk[-1].offset)


async def _write_chunk(store: Store, chunk: list[_Item], report: ImportReport) -> None:
    """New resources go in with one statement per table for the whole chunk; resources
    that already exist are updated one by one (unchanged ones make no new version)."""
    if not chunk:
        return
    prepared: list[tuple[_Item, NewResource]] = []
    rejected: list[Rejection] = []
    for item in chunk:
        resource = item.resource
        if not isinstance(resource, dict):
            rejected.append(Rejection(item.where, "not a JSON object"))
            continue
        resource_id = resource.get("id")
        try:
            prepared.append((item, prepare_new(
                resource, resource_id if isinstance(resource_id, str) and resource_id else None)))
        except FhirError as error:
            rejected.append(Rejection(item.where, error.diagnostics))
    try:
        async with store.writing() as tx:
            keys = [(new.stored.resource_type, new.stored.id) for _, new in prepared]
            stored = await tx.existing(keys)
            fresh: list[NewResource] = []
            later: list[_Item] = []
            for (item, new), key in zip(prepared, keys, strict=True):
                if key in stored:
                    later.append(item)
                else:
                    stored.add(key)  # the same id again in this chunk is an update
                    fresh.append(new)
            await tx.insert_new(fresh)
            loaded: Counter[str] = Counter(new.stored.resource_type for new in fresh)
            for item in later:
                resource_type = str(item.resource["resourceType"])
                await tx.update(resource_type, str(item.resource["id"]), item.resource)
                loaded[resource_type] += 1
    except FhirError:
        # Someone else wrote one of these ids meanwhile: go one by one, so each
        # resource succeeds or is rejected on its own.
        await _write_one_by_one(store, chunk, report)
        return
    report.loaded.update(loaded)
    report.rejected.extend(rejected)


async def _write_one_by_one(store: Store, chunk: list[_Item], report: ImportReport) -> None:
    async with store.writing() as tx:
        for item in chunk:
            resource = item.resource
            if not isinstance(resource, dict):
                report.rejected.append(Rejection(item.where, "not a JSON object"))
                continue
            resource_type = str(resource.get("resourceType"))
            savepoint = await tx.conn.begin_nested()
            try:
                resource_id = resource.get("id")
                if isinstance(resource_id, str) and resource_id:
                    await tx.update(resource_type, resource_id, resource)
                else:
                    await tx.create(resource)
            except FhirError as error:
                await savepoint.rollback()
                report.rejected.append(Rejection(item.where, error.diagnostics))
                continue
            await savepoint.commit()
            report.loaded[resource_type] += 1


async def _import_bundle(store: Store, item: _Item, report: ImportReport) -> None:
    request = FhirRequest(method="POST", path="", body=item.resource, prefer_return="minimal")
    try:
        response = await dispatch(store, request)
    except FhirError as error:
        report.rejected.append(Rejection(item.where, error.diagnostics))
        return
    entries = (response.body or {}).get("entry", [])
    for index, entry in enumerate(entries):
        status = entry.get("response", {}).get("status", "")
        if status.startswith("2"):
            location = entry.get("response", {}).get("location", "")
            resource_type = location.rsplit("/", 4)[-4] if "/_history/" in location else ""
            report.loaded[resource_type or "Bundle entry"] += 1
        else:
            outcome = entry.get("response", {}).get("outcome", {})
            reason = "; ".join(issue.get("diagnostics", "") for issue in outcome.get("issue", []))
            report.rejected.append(Rejection(f"{item.where} entry {index}", reason or status))


def _is_ndjson(path: Path) -> bool:
    return path.suffix in (".ndjson", ".jsonl")


def _items(path: Path, report: ImportReport, start: int = 0) -> Iterator[_Item]:
    if _is_ndjson(path):
        with path.open("rb") as lines:
            # Line numbers in rejections stay true when resuming mid-file.
            number = lines.read(start).count(b"\n") if start else 0
            offset = start
            for line in lines:
                number += 1
                offset += len(line)
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    yield _Item(where, orjson.loads(line), offset)
                except orjson.JSONDecodeError as error:
                    report.rejected.append(Rejection(where, f"not valid JSON: {error}"))
        return
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        report.rejected.append(Rejection(str(path), f"not valid JSON: {error}"))
        return
    if isinstance(data, dict) and data.get("resourceType") == "Bundle" and data.get("type") in (
        "collection", "searchset"
    ):
        for index, entry in enumerate(data.get("entry") or []):
            if isinstance(entry, dict) and "resource" in entry:
                yield _Item(f"{path} entry {index}", entry["resource"])
        return
    yield _Item(str(path), data)
