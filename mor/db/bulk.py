"""Inserting rows into several tables at once.

On PostgreSQL every table's rows go in one statement: each table becomes an
``INSERT ... SELECT * FROM unnest(...)`` in a chain of CTEs, the columns sent
as arrays. A write that touches the version table and four index tables
then costs one round trip instead of five. SQLite has no data-modifying CTEs,
and no round trips to save, so there each table gets one ``executemany``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Boolean, Double, Integer, Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection


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


async def insert_rows(
    conn: AsyncConnection, rows_by_table: Mapping[Table, Sequence[Mapping[str, Any]]]
) -> None:
    """Insert every table's rows; each row must give every column of its table but keys."""
    filled = {table: rows for table, rows in rows_by_table.items() if rows}
    if not filled:
        return
    if conn.dialect.name != "postgresql":
        for table, rows in filled.items():
            await conn.execute(insert(table), list(rows))
        return
    statements = []
    parameters: list[Any] = []
    for table, rows in filled.items():
        columns = [c for c in table.columns if c.name in rows[0]]
        arrays = []
        for column in columns:
            parameters.append([row[column.name] for row in rows])
            arrays.append(f"${len(parameters)}::{_array_type(column.type)}")
        names = ", ".join(column.name for column in columns)
        statements.append(f"INSERT INTO {table.name} ({names}) "
                          f"SELECT * FROM unnest({', '.join(arrays)})")
    *ctes, last = statements
    prefix = ("WITH " + ", ".join(f"w{i} AS ({cte})" for i, cte in enumerate(ctes)) + " "
              if ctes else "")
    await conn.exec_driver_sql(prefix + last, tuple(parameters))


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
