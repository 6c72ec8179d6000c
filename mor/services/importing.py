"""Loading FHIR resources from files into the store (``mor import``).

Accepts single resources, Bundles and NDJSON, read by ``import_sources``.
Transaction and batch Bundles are processed as the FHIR API would process
them; the entries of other Bundles (collection, searchset) are loaded one by
one. A resource with an id keeps it (update-as-create), so importing the same
file twice changes nothing. An interrupted import resumes where it stopped.
Resources are written in chunks, each in one database transaction with a
savepoint per resource, so one bad resource is rejected without losing its
neighbours and without a commit per resource.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from mor.config import Settings
from mor.db.engine import create_engine
from mor.db.statistics import refresh_statistics
from mor.fhir.errors import FhirError
from mor.fhir.interactions import dispatch
from mor.fhir.permissions import UNRESTRICTED
from mor.fhir.requests import FhirRequest
from mor.fhir.store import NewResource, Store, prepare_new
from mor.fhir.visibility import EVERYTHING
from mor.services.import_sources import InputFile, Item

CHUNK_SIZE = 500
# Smaller inputs are imported before worker processes would have started.
WORKERS_MIN_BYTES = 20_000_000


@dataclass(frozen=True, slots=True)
class Rejection:
    where: str
    reason: str


@dataclass(slots=True)
class ImportReport:
    loaded: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejection] = field(default_factory=list)
    # Files resumed from a checkpoint, and where they resumed ("byte 1,024", "entry 500").
    resumed: dict[str, str] = field(default_factory=dict)

    @property
    def total_loaded(self) -> int:
        return sum(self.loaded.values())


class Checkpoints:
    """How far each file got, so an interrupted import resumes where it stopped.

    The position saved is that of the last item committed (``Item.position``: a byte offset
    in NDJSON, an entry count in a Bundle). A checkpoint is kept per database and file (by
    absolute path, size and modification time: a changed file starts over) and removed when
    the file is done.
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
        # "offset": written by mor before Bundles could resume (NDJSON only, same meaning).
        return int(saved.get("position", saved.get("offset", 0)))

    def save(self, path: Path, position: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        file = self._file(path)
        temporary = file.with_suffix(".tmp")
        temporary.write_bytes(orjson.dumps({"path": str(path.resolve()), "position": position,
                                            "identity": self._identity(path)}))
        temporary.replace(file)  # atomic: a crash leaves the old checkpoint or the new

    def done(self, path: Path) -> None:
        self._file(path).unlink(missing_ok=True)


async def import_paths(
    settings: Settings, paths: list[Path], *, console: Console | None = None,
    checkpoints: Checkpoints | None = None, workers: int | None = None,
    only_type: str | None = None,
) -> ImportReport:
    """Import the files; ``workers``: processes that check and index resources beside
    this one (by default one per processor for inputs large enough to repay starting
    them, none for small ones); ``only_type``: the one resource type the files may hold
    (a bulk import's input is of one type), others are rejected."""
    engine = create_engine(settings)
    try:
        store = Store(engine)
        report = ImportReport()
        total_bytes = sum(path.stat().st_size for path in paths)
        if workers is None:
            workers = (os.cpu_count() or 1) if total_bytes >= WORKERS_MIN_BYTES else 0
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
            TimeRemainingColumn(), console=console, disable=console is None, transient=True,
        ) as progress:
            task = progress.add_task("Importing", total=total_bytes)

            def reject(where: str, reason: str) -> None:
                report.rejected.append(Rejection(where, reason))

            for path in paths:
                progress.update(task, description=f"Importing {path.name}")
                source = InputFile(path)
                start = checkpoints.start(path) if checkpoints else 0
                if start:
                    report.resumed[str(path)] = source.describe(start)
                shown = 0  # bytes of this file the progress bar counts as done

                def committed(position: int | None, path: Path = path,
                              source: InputFile = source) -> None:
                    nonlocal shown
                    progress.advance(task, source.bytes_read - shown)
                    shown = source.bytes_read
                    if position is not None and checkpoints is not None:
                        checkpoints.save(path, position)

                items = source.items(reject, start)
                if only_type is not None:
                    items = _of_type(items, only_type, reject)
                await import_items(store, items, report, committed, workers=workers)
                progress.advance(task, path.stat().st_size - shown)
                if checkpoints is not None:
                    checkpoints.done(path)
        await refresh_statistics(engine)
        return report
    finally:
        await engine.dispose()


def _of_type(items: Iterator[Item], resource_type: str, reject: Callable[[str, str], None]
             ) -> Iterator[Item]:
    for item in items:
        found = item.resource.get("resourceType") if isinstance(item.resource, dict) else None
        if found == resource_type:
            yield item
        else:
            what = f"a resource of type {found}" if found else "not a resource"
            reject(item.where, f"{what}, in an input of type {resource_type}")


async def import_items(store: Store, items: Iterator[Item], report: ImportReport,
                       committed: Callable[[int | None], None] = lambda _: None,
                       *, workers: int = 0) -> None:
    """Write the items in chunks; ``committed`` learns the position (``Item.position``)
    each commit reached.

    With ``workers``, chunks are checked and indexed in that many other processes while
    this one writes earlier chunks: the two halves of the work then run side by side
    instead of taking turns. Chunks are still written in order.
    """
    with _Preparer(workers) as preparer:
        pending: deque[tuple[list[Item], asyncio.Future[list[NewResource | str]]]] = deque()
        chunks = 0

        async def write_pending(keep: int) -> None:
            nonlocal chunks
            while len(pending) > keep:
                chunk, prepared = pending.popleft()
                await _write_chunk(store, chunk, await prepared, report)
                committed(chunk[-1].position)
                chunks += 1
                if chunks & (chunks - 1) == 0:
                    # After 1, 2, 4, 8 ... chunks: as the tables grow the planner must know
                    # it, or each chunk's lookup of existing ids becomes a full scan.
                    await refresh_statistics(store.engine, only_resources=True)

        chunk: list[Item] = []
        for item in items:
            resource = item.resource
            if isinstance(resource, dict) and resource.get("resourceType") == "Bundle" and (
                resource.get("type") in ("transaction", "batch")
            ):
                if chunk:
                    pending.append((chunk, preparer.submit(chunk)))
                    chunk = []
                await write_pending(0)
                await _import_bundle(store, item, report)
                committed(item.position)
                continue
            chunk.append(item)
            if len(chunk) >= CHUNK_SIZE:
                pending.append((chunk, preparer.submit(chunk)))
                chunk = []
                # Enough chunks in preparation to keep every worker busy, and no more:
                # memory stays bounded however large the input.
                await write_pending(workers)
        if chunk:
            pending.append((chunk, preparer.submit(chunk)))
        await write_pending(0)


def prepare_resources(resources: list[Any]) -> list[NewResource | str]:
    """Each resource checked and indexed, ready to insert, or why it is rejected."""
    prepared: list[NewResource | str] = []
    for data in resources:
        if not isinstance(data, dict):
            prepared.append("not a JSON object")
            continue
        resource_id = data.get("id")
        try:
            prepared.append(prepare_new(
                data, resource_id if isinstance(resource_id, str) and resource_id else None))
        except FhirError as error:
            prepared.append(error.diagnostics)
    return prepared


class _Preparer:
    """Runs ``prepare_resources`` on chunks: in worker processes, or here if there are none."""

    def __init__(self, workers: int) -> None:
        # Spawned, not forked: a fork would copy this process's event loop, threads and
        # database connections into the child.
        self.pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn")) \
            if workers > 0 else None

    def __enter__(self) -> _Preparer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def submit(self, chunk: list[Item]) -> asyncio.Future[list[NewResource | str]]:
        resources = [item.resource for item in chunk]
        loop = asyncio.get_running_loop()
        if self.pool is not None:
            return loop.run_in_executor(self.pool, prepare_resources, resources)
        done: asyncio.Future[list[NewResource | str]] = loop.create_future()
        done.set_result(prepare_resources(resources))
        return done


async def _write_chunk(store: Store, chunk: list[Item], prepared: list[NewResource | str],
                       report: ImportReport) -> None:
    """New resources go in with one statement per table for the whole chunk; resources
    that already exist are updated one by one (unchanged ones make no new version)."""
    new_items: list[tuple[Item, NewResource]] = []
    rejected: list[Rejection] = []
    for item, outcome in zip(chunk, prepared, strict=True):
        if isinstance(outcome, str):
            rejected.append(Rejection(item.where, outcome))
        else:
            new_items.append((item, outcome))
    try:
        async with store.writing(EVERYTHING) as tx:
            keys = [(new.stored.resource_type, new.stored.id) for _, new in new_items]
            stored = await tx.existing(keys)
            fresh: list[NewResource] = []
            later: list[Item] = []
            for (item, new), key in zip(new_items, keys, strict=True):
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


async def _write_one_by_one(store: Store, chunk: list[Item], report: ImportReport) -> None:
    async with store.writing(EVERYTHING) as tx:
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


async def _import_bundle(store: Store, item: Item, report: ImportReport) -> None:
    request = FhirRequest(method="POST", path="", caller=UNRESTRICTED, body=item.resource,
                          prefer_return="minimal")
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
