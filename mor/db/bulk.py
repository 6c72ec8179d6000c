"""Inserting rows into several tables at once.

Rows travel as tuples under one list of column names per table (a ``Batch``),
never as a dict per row: an import writes tens of millions of them.

On PostgreSQL a large write goes through ``COPY`` (binary, per table), the
fastest way in; a small one puts every table's rows in one statement, each
table an ``INSERT ... SELECT * FROM unnest(...)`` in a chain of CTEs with the
columns sent as arrays, so a write that touches five tables costs one round
trip instead of five. SQLite has no data-modifying CTEs and no round trips to
save, so there each table gets one ``executemany``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Boolean, Double, Integer, Table
from sqlalchemy.ext.asyncio import AsyncConnection

# Below this many rows in all, one multi-table statement beats a COPY per table.
COPY_MIN_ROWS = 2000


@dataclass(slots=True)
class Batch:
    """Rows for one table, every row giving ``columns`` in that order."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


def _array_type(column_type: Any) -> str:
    if isinstance(column_type, BigInteger):
        return "bigint[]"
    if isinstance(column_type, Integer):
        return "integer[]"
    if isinstance(column_type, Boolean):
        return "boolean[]"
    if isinstance(column_type, Double):
        return "float8[]"
    return "text[]"


async def insert_rows(conn: AsyncConnection, batches: Mapping[Table, Batch]) -> None:
    """Insert every table's rows, in the connection's current transaction."""
    filled = {table: batch for table, batch in batches.items() if batch.rows}
    if not filled:
        return
    if conn.dialect.name != "postgresql":
        for table, batch in filled.items():
            marks = ", ".join("?" for _ in batch.columns)
            await conn.exec_driver_sql(
                f"INSERT INTO {table.name} ({', '.join(batch.columns)}) VALUES ({marks})",
                batch.rows)
        return
    if sum(len(batch.rows) for batch in filled.values()) >= COPY_MIN_ROWS:
        await _copy(conn, filled)
        return
    statements = []
    parameters: list[Any] = []
    for table, batch in filled.items():
        arrays = []
        for column, values in zip(batch.columns, zip(*batch.rows, strict=True), strict=True):
            parameters.append(list(values))
            arrays.append(f"${len(parameters)}::{_array_type(table.c[column].type)}")
        statements.append(f"INSERT INTO {table.name} ({', '.join(batch.columns)}) "
                          f"SELECT * FROM unnest({', '.join(arrays)})")
    *ctes, last = statements
    prefix = ("WITH " + ", ".join(f"w{i} AS ({cte})" for i, cte in enumerate(ctes)) + " "
              if ctes else "")
    await conn.exec_driver_sql(prefix + last, tuple(parameters))


async def _copy(conn: AsyncConnection, batches: Mapping[Table, Batch]) -> None:
    # A statement through SQLAlchemy first: its asyncpg adapter opens the transaction
    # lazily, and a COPY sent straight to the driver before that would commit on its own.
    await conn.exec_driver_sql("SELECT 1")
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    for table, batch in batches.items():
        await driver.copy_records_to_table(table.name, records=batch.rows,
                                           columns=list(batch.columns))


async def delete_rows(
    conn: AsyncConnection, tables: Sequence[Table], column: str, value: Any
) -> None:
    """Delete the rows whose ``column`` equals ``value`` from every table, in one statement
    on PostgreSQL."""
    if conn.dialect.name != "postgresql":
        for table in tables:
            await conn.execute(table.delete().where(table.c[column] == value))
        return
    *ctes, last = [f"DELETE FROM {table.name} WHERE {column} = $1" for table in tables]
    prefix = ("WITH " + ", ".join(f"d{i} AS ({cte})" for i, cte in enumerate(ctes)) + " "
              if ctes else "")
    await conn.exec_driver_sql(prefix + last, (value,))
