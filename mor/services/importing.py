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

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from mor.config import Settings
from mor.db.engine import create_engine
from mor.fhir.errors import FhirError
from mor.fhir.interactions import dispatch
from mor.fhir.requests import FhirRequest
from mor.fhir.store import Store

CHUNK_SIZE = 500


@dataclass(frozen=True, slots=True)
class Rejection:
    where: str
    reason: str


@dataclass(slots=True)
class ImportReport:
    loaded: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def total_loaded(self) -> int:
        return sum(self.loaded.values())


@dataclass(frozen=True, slots=True)
class _Item:
    where: str
    resource: Any


async def import_paths(
    settings: Settings, paths: list[Path], *, console: Console | None = None
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
                await import_items(store, _items(path, report), report)
                progress.advance(task, path.stat().st_size)
        return report
    finally:
        await engine.dispose()


async def import_items(store: Store, items: Iterator[_Item], report: ImportReport) -> None:
    chunk: list[_Item] = []
    for item in items:
        resource = item.resource
        if isinstance(resource, dict) and resource.get("resourceType") == "Bundle" and (
            resource.get("type") in ("transaction", "batch")
        ):
            await _write_chunk(store, chunk, report)
            chunk = []
            await _import_bundle(store, item, report)
            continue
        chunk.append(item)
        if len(chunk) >= CHUNK_SIZE:
            await _write_chunk(store, chunk, report)
            chunk = []
    await _write_chunk(store, chunk, report)


async def _write_chunk(store: Store, chunk: list[_Item], report: ImportReport) -> None:
    if not chunk:
        return
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


def _items(path: Path, report: ImportReport) -> Iterator[_Item]:
    if path.suffix in (".ndjson", ".jsonl"):
        with path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    yield _Item(where, orjson.loads(line))
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
