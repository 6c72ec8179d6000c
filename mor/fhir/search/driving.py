"""Where a search starts, decided by looking at the index rather than by estimate.

PostgreSQL estimates how many index rows a condition matches from statistics of each
column alone, multiplying the selectivities of ``param`` and the value as if they were
independent. For a value common within one parameter and rare elsewhere (a health
centre as the ``owner`` of its 20,000 Tasks, a code that only alert Tasks carry) it
expects one row, and may start a search there, reading 20,000 rows to keep the 1,000
whose ``status`` is open.

So before a search with several conditions on the index, mor asks each, in one
statement, for at most ``PROBE_LIMIT`` of the keys it matches. When one matches no more
than that, its keys are added to the search as a list, and the planner knows exactly
how few rows the search can start from. The condition itself stays in the search, so a
resource changed since the look is still checked against it; the list only narrows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.sql.elements import BinaryExpression
from sqlalchemy.sql.operators import in_op
from sqlalchemy.sql.selectable import ScalarSelect

from mor.db.keys import key_in
from mor.db.schema import resource
from mor.fhir.store import Transaction

# Enough for the open alerts of a centre's worklist; reading this many keys of an index
# takes about a millisecond, so a search whose conditions are all larger loses little.
PROBE_LIMIT = 2_000


def index_rows(condition: ColumnElement[bool]) -> Select[Any] | None:
    """The index sub-query of a condition ``pk IN (SELECT resource_pk FROM idx_...)``,
    the form :mod:`.conditions` gives a parameter on one index table; None otherwise."""
    if not (isinstance(condition, BinaryExpression) and condition.operator is in_op
            and condition.left is resource.c.pk
            and isinstance(condition.right, ScalarSelect)
            and isinstance(condition.right.element, Select)):
        return None
    rows: Select[Any] = condition.right.element
    return rows


async def with_smallest_listed(tx: Transaction, conditions: list[ColumnElement[bool]]
                               ) -> list[ColumnElement[bool]]:
    """``conditions``, and the keys the most selective of them matches when they are few
    (PostgreSQL only: SQLite's planner takes the order of the conditions as given)."""
    if not tx.is_postgres:
        return conditions
    candidates = [rows for rows in map(index_rows, conditions) if rows is not None]
    if len(candidates) < 2:
        return conditions
    probe = select(*[func.array(rows.limit(PROBE_LIMIT + 1).scalar_subquery())
                     for rows in candidates])
    found: list[list[int]] = list((await tx.rows(probe))[0])
    smallest = min(found, key=len)
    if len(smallest) > PROBE_LIMIT:
        return conditions
    return [*conditions, key_in(resource.c.pk, sorted(set(smallest)), postgres=True)]


__all__ = ["PROBE_LIMIT", "index_rows", "with_smallest_listed"]
