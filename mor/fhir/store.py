"""The resource store: create, read, update, delete, versions and history.

Every write happens inside a :class:`Transaction` and touches three things at
once (the current row, a new row in the version history and the search-index
rows), so a failed write leaves nothing behind. Versions start at 1 and grow by
one per change; a delete is a version with no content.

Concurrency: on PostgreSQL the current row is locked (``SELECT ... FOR UPDATE``)
before a new version is written, so two updates of one resource queue and the
second sees the first's version; conditional creates take an advisory lock on
their search criteria so racing creates make one resource. On SQLite a writer
holds the database's write lock for its whole transaction, which gives the
same guarantees.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Table,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mor.db.bulk import Batch, delete_rows, insert_rows
from mor.db.engine import WRITE_OPTION
from mor.db.keys import key_in
from mor.db.schema import INDEX_TABLES, idx_reference, resource, resource_version
from mor.fhir.access_index import PATIENT_PARAM, access_rows
from mor.fhir.errors import BadRequest, Forbidden, Gone, NotFound, PreconditionFailed
from mor.fhir.indexing import IndexRow, index_rows, patient_date_rows
from mor.fhir.timestamps import instant_from_micros, now_micros
from mor.fhir.validation import check_id, check_resource_type, validate_resource
from mor.fhir.visibility import EVERYTHING, Visibility


@dataclass(frozen=True, slots=True)
class StoredResource:
    """One version of a resource as stored; ``json`` is None for a deletion."""

    resource_type: str
    id: str
    version_id: int
    last_updated: int
    deleted: bool
    json: str | None
    method: str = "PUT"
    # The row key, when read for a search (includes follow references by it).
    pk: int | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # As NewResource.__reduce__.
        return StoredResource, (self.resource_type, self.id, self.version_id,
                                self.last_updated, self.deleted, self.json, self.method,
                                self.pk)

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.id}"

    @property
    def etag(self) -> str:
        return f'W/"{self.version_id}"'

    @property
    def last_updated_instant(self) -> str:
        return instant_from_micros(self.last_updated)

    def resource(self) -> dict[str, Any]:
        if self.json is None:
            raise Gone(f"{self.reference} was deleted in version {self.version_id}")
        parsed: dict[str, Any] = orjson.loads(self.json)
        return parsed


@dataclass(frozen=True, slots=True)
class HistoryPage:
    versions: list[StoredResource]
    # Opaque position after the last version returned, or None when there is no more.
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class _Record:
    """A record waiting in Store.append_record."""

    build: Callable[[set[str]], dict[str, Any] | None]
    touching: tuple[int, ...]
    patients: tuple[str, ...]
    done: asyncio.Future[None]


@dataclass(frozen=True, slots=True)
class _Current:
    pk: int
    version_id: int
    last_updated: int
    deleted: bool
    json: str | None


def new_id() -> str:
    return str(uuid.uuid4())


class Store:
    """Opens transactions on the database; all work on resources happens inside one."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # Resources waiting to be appended together (see append).
        self._appending: list[_Record] = []
        self._appender: asyncio.Task[None] | None = None
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        # Reads need no transaction of their own: autocommit saves the BEGIN and
        # ROLLBACK round trips (each a thread hop with aiosqlite).
        self._read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def append(self, resource_data: dict[str, Any]) -> None:
        """Store a new resource together with those other requests append at the same
        moment: one transaction and one commit for the lot (group commit). Returns once
        it is committed. For records that must be stored before an answer leaves but
        are no part of the answer's own transaction: the audit records of reads."""
        await self.append_record(lambda _patients: resource_data, ())

    async def append_record(self, build: Callable[[set[str]], dict[str, Any] | None],
                            touching: Collection[int], patients: Collection[str] = ()
                            ) -> None:
        """As append, for a record about the resources of keys ``touching``: ``build``
        gets the patients whose records they are part of (and ``patients``), looked up
        for the whole batch at once, and returns the resource (None: nothing to store)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._appending.append(_Record(build, tuple(touching), tuple(patients), done))
        if self._appender is None or self._appender.done():
            self._appender = loop.create_task(self._append_batches())
        await done

    async def _append_batches(self) -> None:
        while self._appending:
            batch = self._appending[:_APPEND_BATCH]
            del self._appending[:_APPEND_BATCH]
            try:
                async with self.writing(EVERYTHING) as tx:
                    owners = await tx.owners(sorted({pk for r in batch for pk in r.touching}))
                    new = []
                    for record in batch:
                        patients = {p for pk in record.touching for p in owners.get(pk, ())}
                        built = record.build(patients | set(record.patients))
                        if built is not None:
                            new.append(prepare_new(built))
                    await tx.insert_new(new)
            except Exception as error:  # each waiter gets it: their answers must not leave
                for record in batch:
                    if not record.done.done():
                        record.done.set_exception(error)
            else:
                for record in batch:
                    if not record.done.done():
                        record.done.set_result(None)

    @asynccontextmanager
    async def writing(self, visibility: Visibility) -> AsyncIterator[Transaction]:
        """A transaction that may write; everything it reads is limited by ``visibility``."""
        async with self._write_engine.begin() as conn:
            yield Transaction(conn, visibility)

    @asynccontextmanager
    async def reading(self, visibility: Visibility) -> AsyncIterator[Transaction]:
        """A read-only session whose every read is limited by ``visibility``."""
        async with self._read_engine.connect() as conn:
            yield Transaction(conn, visibility)


class Transaction:
    """The store's operations, all within one database transaction.

    Every read answers only what ``visibility`` allows; a resource outside it reads as
    one that does not exist. Every write must leave the resource inside it."""

    def __init__(self, conn: AsyncConnection, visibility: Visibility) -> None:
        self.conn = conn
        self.is_postgres = conn.dialect.name == "postgresql"
        self.visibility = visibility
        # What this transaction showed or changed, by key: what an audit record names.
        self.touched: dict[int, str] = {}
        # Whose records the resources deleted here were part of (their rows are gone).
        self.deleted_owners: set[str] = set()

    def visible(self, table: FromClause = resource) -> ColumnElement[bool]:
        """SQL true for the rows of ``table`` (resource or an alias) this reader may see."""
        return self.visibility.condition(table.c.pk, table.c.resource_type)

    def limits(self, table: FromClause = resource) -> list[ColumnElement[bool]]:
        """The conditions a search adds so it finds only what this reader may see."""
        return [] if self.visibility.sees_everything else [self.visible(table)]

    # -- reading -------------------------------------------------------------

    async def read(self, resource_type: str, resource_id: str) -> StoredResource:
        check_resource_type(resource_type)
        current = await self._current(resource_type, resource_id)
        if current is None or not await self._is_visible(current.pk):
            raise NotFound(f"{resource_type}/{resource_id} does not exist")
        self.touched[current.pk] = f"{resource_type}/{resource_id}"
        stored = _stored(resource_type, resource_id, current)
        if current.deleted:
            raise Gone(
                f"{resource_type}/{resource_id} was deleted (version {current.version_id}); "
                "its earlier versions are in its _history"
            )
        return stored

    async def read_version(
        self, resource_type: str, resource_id: str, version_id: int
    ) -> StoredResource:
        check_resource_type(resource_type)
        row = (
            await self.conn.execute(
                select(
                    resource_version.c.version_id,
                    resource_version.c.last_updated,
                    resource_version.c.deleted,
                    resource_version.c.content,
                    resource_version.c.method,
                    resource_version.c.resource_pk,
                ).where(
                    resource_version.c.resource_type == resource_type,
                    resource_version.c.id == resource_id,
                    resource_version.c.version_id == version_id,
                )
            )
        ).first()
        if row is None or not await self._is_visible(row[5]):
            raise NotFound(f"{resource_type}/{resource_id} has no version {version_id}")
        self.touched[row[5]] = f"{resource_type}/{resource_id}"
        stored = StoredResource(resource_type, resource_id, row[0], row[1], row[2], row[3], row[4])
        if stored.deleted:
            raise Gone(f"Version {version_id} of {resource_type}/{resource_id} is a deletion")
        return stored

    async def read_many(self, pks: Sequence[int]) -> list[StoredResource]:
        """Current versions for resource keys, in the order given."""
        if not pks:
            return []
        rows = (
            await self.conn.execute(
                select(
                    resource.c.pk, resource.c.resource_type, resource.c.id,
                    resource.c.version_id, resource.c.last_updated, resource.c.content,
                ).where(key_in(resource.c.pk, pks, postgres=self.is_postgres),
                        self.visible())
            )
        ).all()
        by_pk = {row[0]: StoredResource(row[1], row[2], row[3], row[4], False, row[5],
                                        pk=row[0])
                 for row in rows}
        self.touched.update((pk, stored.reference) for pk, stored in by_pk.items())
        return [by_pk[pk] for pk in pks if pk in by_pk]

    async def read_page(self, page: Select[Any], shown: int
                        ) -> list[tuple[tuple[Any, ...], StoredResource]]:
        """Run a search's page query (resource keys and sort values, in order) and read
        each match's current version in the same statement: the reader's access was
        tested by the page, once, and nothing can change between the two. Only the first
        ``shown`` count as read by the reader (a page asks for one more, to know whether
        another page follows)."""
        width = len(page.selected_columns)
        found = page.subquery("page")
        # Numbered as the page gives them, before the join may reorder them.
        numbered = select(found, func.row_number().over().label("ordinal")).subquery()
        rows = sorted((await self.conn.execute(
            select(numbered, resource.c.resource_type, resource.c.id, resource.c.version_id,
                   resource.c.last_updated, resource.c.content)
            .join(resource, resource.c.pk == numbered.c[0]))).all(),
            key=lambda row: int(row[width]))
        page_rows: list[tuple[tuple[Any, ...], StoredResource]] = []
        for row in rows:
            stored = StoredResource(row[width + 1], row[width + 2], row[width + 3],
                                    row[width + 4], False, row[width + 5], pk=row[0])
            if len(page_rows) < shown:
                self.touched[row[0]] = stored.reference
            page_rows.append((tuple(row[:width]), stored))
        return page_rows

    async def find(self, query: Select[Any], limit: int) -> list[int]:
        """Run a compiled search returning resource keys (see mor.fhir.search)."""
        rows = (await self.conn.execute(query.limit(limit))).all()
        return [row[0] for row in rows]

    async def rows(self, query: Select[Any]) -> list[tuple[Any, ...]]:
        """Run a query built by the search compiler (keys and sort values)."""
        result = await self.conn.execute(query)
        return [tuple(row) for row in result.all()]

    async def count(self, query: Select[Any]) -> int:
        """How many resources a compiled search matches."""
        matches = query.order_by(None).subquery()
        result = await self.conn.execute(select(func.count()).select_from(matches))
        return int(result.scalar_one())

    async def history(
        self,
        *,
        resource_type: str | None = None,
        resource_id: str | None = None,
        since: int | None = None,
        count: int = 50,
        cursor: str | None = None,
    ) -> HistoryPage:
        """Versions newest first, ``count`` at a time; pass ``next_cursor`` for the next page."""
        rv = resource_version
        query = select(
            rv.c.resource_type, rv.c.id, rv.c.version_id, rv.c.last_updated,
            rv.c.deleted, rv.c.content, rv.c.method, rv.c.resource_pk,
        )
        if not self.visibility.sees_everything:
            query = query.where(self.visibility.condition(rv.c.resource_pk, rv.c.resource_type))
        if resource_type is not None:
            query = query.where(rv.c.resource_type == resource_type)
        if resource_id is not None:
            query = query.where(rv.c.id == resource_id)
        if since is not None:
            query = query.where(rv.c.last_updated >= since)
        if cursor is not None:
            last_updated, pk, version = _parse_cursor(cursor)
            # Keyset paging: strictly after the last row of the previous page in
            # (last_updated, resource_pk, version_id) descending order.
            query = query.where(
                or_(
                    rv.c.last_updated < last_updated,
                    and_(rv.c.last_updated == last_updated, rv.c.resource_pk < pk),
                    and_(rv.c.last_updated == last_updated, rv.c.resource_pk == pk,
                         rv.c.version_id < version),
                )
            )
        query = query.order_by(
            rv.c.last_updated.desc(), rv.c.resource_pk.desc(), rv.c.version_id.desc()
        ).limit(count + 1)
        rows = (await self.conn.execute(query)).all()
        versions = [StoredResource(r[0], r[1], r[2], r[3], r[4], r[5], r[6])
                    for r in rows[:count]]
        self.touched.update((r[7], f"{r[0]}/{r[1]}") for r in rows[:count])
        next_cursor = None
        if len(rows) > count:
            last = rows[count - 1]
            next_cursor = f"{last[3]}.{last[7]}.{last[2]}"
        return HistoryPage(versions, next_cursor)

    # -- writing -------------------------------------------------------------

    async def create(
        self, resource_data: dict[str, Any], *, resource_id: str | None = None
    ) -> StoredResource:
        """Store a new resource under a server-assigned id (or the one given)."""
        return (await self.insert_new([prepare_new(resource_data, resource_id)]))[0]

    async def insert_new(self, new: Sequence[NewResource]) -> list[StoredResource]:
        """Store prepared new resources with one statement per table, however many there are."""
        await self._check_writable(new)
        for start in range(0, len(new), _CHUNK):
            chunk = new[start:start + _CHUNK]
            pks = await self._insert_currents([item.stored for item in chunk])
            missing = [item.stored.reference for item, pk in zip(chunk, pks, strict=True)
                       if pk is None]
            if missing:
                raise PreconditionFailed(f"{', '.join(missing)} already exists; use PUT to "
                                         "change an existing resource")
            written = [(pk, item) for pk, item in zip(pks, chunk, strict=True) if pk is not None]
            await self._write_versions(written)
            self.touched.update((pk, item.stored.reference) for pk, item in written)
        return [item.stored for item in new]

    async def update(
        self,
        resource_type: str,
        resource_id: str,
        resource_data: dict[str, Any],
        *,
        if_match: int | None = None,
        method: str = "PUT",
    ) -> tuple[StoredResource, bool]:
        """Write a new version, or create the resource with this id; returns (version, created)."""
        check_resource_type(resource_type)
        check_id(resource_id)
        validate_resource(resource_data)
        current = await self._current(resource_type, resource_id, for_update=True)
        if current is None:
            if if_match is not None:
                raise PreconditionFailed(
                    f"If-Match asked for version {if_match} of {resource_type}/{resource_id}, "
                    "which does not exist; create it without If-Match"
                )
            item = _prepare(resource_data, resource_type, resource_id, 1, method)
            await self._check_writable([item])
            pk = (await self._insert_currents([item.stored]))[0]
            if pk is not None:
                await self._write_versions([(pk, item)])
                self.touched[pk] = item.stored.reference
                return item.stored, True
            # Another transaction created it between our look and our insert.
            current = await self._current(resource_type, resource_id, for_update=True)
            assert current is not None
        await self._check_changeable(resource_type, resource_id, current)
        _check_version(resource_type, resource_id, current, if_match)
        if not current.deleted and current.json is not None and _same_content(
            current.json, resource_data
        ):
            return _stored(resource_type, resource_id, current), False
        item = _prepare(
            resource_data, resource_type, resource_id, current.version_id + 1, method,
            not_before=current.last_updated,
        )
        await self._check_writable([item])
        stored = item.stored
        await self.conn.execute(
            _UPDATE_CURRENT,
            {"pk_": current.pk, "version_id": stored.version_id,
             "last_updated": stored.last_updated, "deleted": False, "content": stored.json},
        )
        await self._delete_index(current.pk)
        await self._write_versions([(current.pk, item)])
        self.touched[current.pk] = stored.reference
        return stored, current.deleted

    async def delete(
        self, resource_type: str, resource_id: str, *, if_match: int | None = None
    ) -> StoredResource | None:
        """Mark the resource deleted; None if there was nothing to delete."""
        check_resource_type(resource_type)
        current = await self._current(resource_type, resource_id, for_update=True)
        if current is None or current.deleted:
            if if_match is not None:
                raise PreconditionFailed(
                    f"If-Match asked for version {if_match} of {resource_type}/{resource_id}, "
                    "which is not current"
                )
            return None
        await self._check_changeable(resource_type, resource_id, current)
        _check_version(resource_type, resource_id, current, if_match)
        last_updated = max(now_micros(), current.last_updated + 1)
        stored = StoredResource(resource_type, resource_id, current.version_id + 1,
                                last_updated, True, None, "DELETE")
        await self.conn.execute(
            _UPDATE_CURRENT,
            {"pk_": current.pk, "version_id": stored.version_id, "last_updated": last_updated,
             "deleted": True, "content": None},
        )
        await insert_rows(self.conn, {
            resource_version: Batch(_VERSION_COLUMNS, [_version_values(current.pk, stored)])})
        self.deleted_owners |= set((await self.owners([current.pk])).get(current.pk, ()))
        self.touched[current.pk] = stored.reference
        await self._delete_index(current.pk)
        return stored

    async def existing(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (type, id) pairs are stored, current or deleted."""
        found: set[tuple[str, str]] = set()
        by_type: dict[str, list[str]] = {}
        for resource_type, resource_id in keys:
            by_type.setdefault(resource_type, []).append(resource_id)
        for resource_type, ids in by_type.items():
            rows = await self.conn.execute(
                select(resource.c.id).where(resource.c.resource_type == resource_type,
                                            resource.c.id.in_(ids)))
            found.update((resource_type, row[0]) for row in rows)
        return found

    async def patients_touched(self) -> set[str]:
        """Whose records this transaction showed or changed, deleted resources included."""
        owners = await self.owners(list(self.touched))
        return {p for found in owners.values() for p in found} | self.deleted_owners

    async def owners(self, pks: Sequence[int]) -> dict[int, list[str]]:
        """The patients whose records these resources are part of, by resource key."""
        found: dict[int, list[str]] = {}
        for start in range(0, len(pks), _CHUNK):
            rows = await self.conn.execute(
                select(idx_reference.c.resource_pk, idx_reference.c.target_id).where(
                    key_in(idx_reference.c.resource_pk, pks[start:start + _CHUNK],
                           postgres=self.is_postgres),
                    idx_reference.c.param == PATIENT_PARAM))
            for pk, patient in rows:
                found.setdefault(pk, []).append(patient)
        return found

    async def count_current(self) -> int:
        """How many resources exist (not deleted)."""
        result = await self.conn.execute(
            select(func.count()).select_from(resource).where(resource.c.deleted == false()))
        return int(result.scalar_one())

    async def reindex(self, after_pk: int, limit: int) -> tuple[int, int] | None:
        """Rebuild the search index of up to ``limit`` current resources after ``after_pk``,
        as the running version of mor indexes them (after an upgrade that indexes more);
        returns the last key done and how many, or None when there were none."""
        rows = (await self.conn.execute(
            select(resource.c.pk, resource.c.resource_type, resource.c.content)
            .where(resource.c.pk > after_pk, resource.c.deleted == false())
            .order_by(resource.c.pk).limit(limit))).all()
        if not rows:
            return None
        pks = [row[0] for row in rows]
        for table in INDEX_TABLES.values():
            await self.conn.execute(table.delete().where(table.c.resource_pk.in_(pks)))
        batches = _index_batches()
        for pk, resource_type, content in rows:
            _add_index_rows(batches, pk, resource_type, all_index_rows(orjson.loads(content)))
        await insert_rows(self.conn, batches)
        return int(pks[-1]), len(pks)

    async def lock_criteria(self, resource_type: str, criteria: str) -> None:
        """Serialise conditional writes on the same criteria (PostgreSQL; SQLite already is)."""
        if self.is_postgres:
            key = f"{resource_type}?{criteria}"
            await self.conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))

    # -- internals -----------------------------------------------------------

    async def _check_changeable(self, resource_type: str, resource_id: str,
                                current: _Current) -> None:
        if not current.deleted and not await self._is_visible(current.pk):
            raise Forbidden(f"You may not change {resource_type}/{resource_id}")

    async def _check_writable(self, new: Sequence[NewResource]) -> None:
        """Refuse a write that would put a resource where its writer could not see it."""
        visibility = self.visibility
        if visibility.sees_everything:
            return
        owners: set[str] = set()
        for item in new:
            stored = item.stored
            if not visibility.allows_type(stored.resource_type):
                raise Forbidden(f"You may not write {stored.resource_type} resources")
            patients = {row.columns["target_id"] for row in item.index
                        if row.param == PATIENT_PARAM}
            if not patients and not visibility.allows_unowned(stored.resource_type):
                raise Forbidden(f"You may not write {stored.resource_type} resources that "
                                "belong to no patient")
            owners |= patients
        if owners and not visibility.unrestricted:
            allowed = await self._visible_patients(owners)
            refused = sorted(owners - allowed)
            if refused:
                raise Forbidden(
                    f"You may not write to the record of Patient/{refused[0]}: it is not a "
                    "patient of yours, and they have not consented to share it with you")

    async def _visible_patients(self, candidates: set[str]) -> set[str]:
        ids = self.visibility.patient_ids()
        if ids is None:
            return set()
        if isinstance(ids, list):
            return candidates & set(ids)
        visible = ids.subquery()
        rows = await self.conn.execute(
            select(visible.c[0]).where(visible.c[0].in_(sorted(candidates))))
        return {row[0] for row in rows}

    async def _is_visible(self, pk: int) -> bool:
        if self.visibility.sees_everything:
            return True
        found = await self.conn.execute(
            select(resource.c.pk).where(resource.c.pk == pk, self.visible()))
        return found.first() is not None

    async def _current(
        self, resource_type: str, resource_id: str, *, for_update: bool = False
    ) -> _Current | None:
        query = _CURRENT_FOR_UPDATE if for_update and self.is_postgres else _CURRENT
        parameters = {"resource_type": resource_type, "id": resource_id}
        row = (await self.conn.execute(query, parameters)).first()
        return None if row is None else _Current(row[0], row[1], row[2], row[3], row[4])

    async def _insert_currents(self, new: Sequence[StoredResource]) -> list[int | None]:
        """Insert resource rows; None for each whose type and id already exist."""
        statement = _INSERT_CURRENT_PG if self.is_postgres else _INSERT_CURRENT_SQLITE
        # SQLAlchemy sends a list of rows with RETURNING as multi-row INSERTs.
        rows = (await self.conn.execute(statement, [
            {"resource_type": s.resource_type, "id": s.id, "version_id": s.version_id,
             "last_updated": s.last_updated, "deleted": False, "content": s.json}
            for s in new])).all()
        pks = {(row[1], row[2]): int(row[0]) for row in rows}
        return [pks.get((s.resource_type, s.id)) for s in new]

    async def _write_versions(self, written: Sequence[tuple[int, NewResource]]) -> None:
        """The version rows of newly written resources, and their search-index rows."""
        batches = _index_batches()
        versions = batches[resource_version] = Batch(_VERSION_COLUMNS)
        for pk, item in written:
            versions.rows.append(_version_values(pk, item.stored))
            _add_index_rows(batches, pk, item.stored.resource_type, item.index)
        await insert_rows(self.conn, batches)

    async def _delete_index(self, pk: int) -> None:
        await delete_rows(self.conn, list(INDEX_TABLES.values()), "resource_pk", pk)


# Built once: constructing SQL expressions costs more than running them on a read.
_CURRENT = select(
    resource.c.pk, resource.c.version_id, resource.c.last_updated, resource.c.deleted,
    resource.c.content,
).where(resource.c.resource_type == bindparam("resource_type"),
        resource.c.id == bindparam("id"))
_CURRENT_FOR_UPDATE = _CURRENT.with_for_update()
_UPDATE_CURRENT = update(resource).where(resource.c.pk == bindparam("pk_"))
_INSERT_CURRENT_PG = (
    pg_insert(resource).on_conflict_do_nothing(index_elements=["resource_type", "id"])
    .returning(resource.c.pk, resource.c.resource_type, resource.c.id)
)
_INSERT_CURRENT_SQLITE = (
    sqlite_insert(resource).on_conflict_do_nothing(index_elements=["resource_type", "id"])
    .returning(resource.c.pk, resource.c.resource_type, resource.c.id)
)
# Rows per multi-row INSERT: well under SQLite's limit on bound parameters.
_CHUNK = 500
# Resources one group commit of append() takes at most.
_APPEND_BATCH = 500


@dataclass(frozen=True, slots=True)
class NewResource:
    """A resource checked, given its id and meta, and indexed: ready to be inserted.

    Small and picklable, so that an import can prepare resources in other processes."""

    stored: StoredResource
    index: tuple[IndexRow, ...]

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by position: a dataclass's default pickling looks its fields up on every
        # object, which made an import's worker processes slower than no workers at all.
        return NewResource, (self.stored, self.index)


_VERSION_COLUMNS: Final = ("resource_pk", "version_id", "resource_type", "id",
                           "last_updated", "deleted", "method", "content")
# Each index table's own columns (those after resource_pk, resource_type and param).
_OWN_COLUMNS: Final = {
    name: tuple(c.name for c in table.columns
                if c.name not in ("resource_pk", "resource_type", "param", "grp"))
    for name, table in INDEX_TABLES.items()
}


def _index_batches() -> dict[Table, Batch]:
    return {table: Batch(("resource_pk", "resource_type", "param", *_OWN_COLUMNS[name],
                          "grp"))
            for name, table in INDEX_TABLES.items()}


def _add_index_rows(batches: dict[Table, Batch], pk: int, resource_type: str,
                    rows: Sequence[IndexRow]) -> None:
    for row in rows:
        columns = row.columns
        batches[INDEX_TABLES[row.table]].rows.append(
            (pk, resource_type, row.param,
             *[columns.get(name) for name in _OWN_COLUMNS[row.table]], row.group))


def all_index_rows(body: dict[str, Any]) -> list[IndexRow]:
    """The search-index rows of a resource, those pairing its dates with its patient,
    and the rows access control reads."""
    rows = index_rows(body)
    return rows + patient_date_rows(rows) + access_rows(body, rows)


def prepare_new(resource_data: dict[str, Any], resource_id: str | None = None) -> NewResource:
    """Check a new resource and give it its id (a new UUID unless given) and version 1."""
    resource_type = str(resource_data.get("resourceType"))
    check_resource_type(resource_type)
    validate_resource(resource_data)
    return _prepare(resource_data, resource_type, resource_id or new_id(), 1, "POST")


def _version_values(pk: int, stored: StoredResource) -> tuple[Any, ...]:
    """A resource_version row, in the order of _VERSION_COLUMNS."""
    return (pk, stored.version_id, stored.resource_type, stored.id, stored.last_updated,
            stored.deleted, stored.method, stored.json)


def _stored(resource_type: str, resource_id: str, current: _Current) -> StoredResource:
    return StoredResource(resource_type, resource_id, current.version_id,
                          current.last_updated, current.deleted, current.json)


def _check_version(
    resource_type: str, resource_id: str, current: _Current, if_match: int | None
) -> None:
    if if_match is not None and if_match != current.version_id:
        raise PreconditionFailed(
            f"{resource_type}/{resource_id} is at version {current.version_id}, but If-Match "
            f"asked for version {if_match}: someone changed it since you read it; read it "
            "again, reapply your change and resend"
        )


def _prepare(
    resource_data: dict[str, Any],
    resource_type: str,
    resource_id: str,
    version_id: int,
    method: str,
    *,
    not_before: int = 0,
) -> NewResource:
    """Give the resource its id and server-owned meta, and serialise it for storage. The
    rest of its meta (tags, security labels, profiles) is kept: a service changing a
    stored resource passes it back whole, its old versionId and all."""
    last_updated = max(now_micros(), not_before + 1)
    meta = dict(resource_data.get("meta") or {})
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = instant_from_micros(last_updated)
    body = {"resourceType": resource_type, "id": resource_id, "meta": meta}
    for key, value in resource_data.items():
        if key not in body:
            body[key] = value
    json = orjson.dumps(body).decode()
    stored = StoredResource(resource_type, resource_id, version_id, last_updated, False, json,
                            method)
    return NewResource(stored, tuple(all_index_rows(body)))


def _without_server_meta(data: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (data.get("meta") or {}).items()
            if k not in ("versionId", "lastUpdated")}
    out = {k: v for k, v in data.items() if k not in ("meta", "id")}
    if meta:
        out["meta"] = meta
    return out


def _same_content(current_json: str, new_data: dict[str, Any]) -> bool:
    """An update that changes nothing but server meta makes no new version."""
    return _without_server_meta(orjson.loads(current_json)) == _without_server_meta(new_data)


def _parse_cursor(cursor: str) -> tuple[int, int, int]:
    try:
        last_updated, pk, version = (int(part) for part in cursor.split("."))
    except ValueError:
        raise BadRequest(
            f"The paging cursor {cursor!r} is not one mor issued; follow the 'next' link "
            "of the previous page instead of editing it"
        ) from None
    return last_updated, pk, version


__all__ = ["HistoryPage", "Store", "StoredResource", "Transaction", "new_id"]
