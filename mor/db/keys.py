"""``key IN (many keys)`` written so its cost does not grow with the number of keys."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, any_, literal
from sqlalchemy.dialects.postgresql import ARRAY


def key_in(column: ColumnElement[Any], keys: Collection[int], *, postgres: bool
           ) -> ColumnElement[bool]:
    """``column IN keys``; on PostgreSQL one array parameter (``= ANY($1)``) rather than
    one parameter per key, which SQLAlchemy renders and asyncpg binds one by one
    (milliseconds for the thousand keys of a worklist page)."""
    if postgres:
        return column == any_(literal(list(keys), ARRAY(BigInteger)))
    return column.in_(list(keys))


__all__ = ["key_in"]
