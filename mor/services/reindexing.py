"""Rebuilding the search index of every stored resource.

Needed after an upgrade that indexes more than before (new search parameters,
composite parameters, words for ``_text``): resources written earlier only
have the index rows of the version that wrote them. Each batch is its own
transaction, so the server can keep running, and a stopped run can simply be
started again.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from mor.config import Settings
from mor.db.engine import create_engine
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING

BATCH = 500


async def reindex_all(settings: Settings, *, console: Console | None = None) -> int:
    """Reindex every current resource; returns how many."""
    engine = create_engine(settings)
    try:
        store = Store(engine)
        async with store.reading(EVERYTHING) as tx:
            total = await tx.count_current()
        done = 0
        last_pk = 0
        with Progress(TextColumn("Reindexing"), BarColumn(), MofNCompleteColumn(),
                      console=console, disable=console is None, transient=True) as progress:
            task = progress.add_task("reindex", total=total)
            while True:
                async with store.writing(EVERYTHING) as tx:
                    batch = await tx.reindex(last_pk, BATCH)
                if batch is None:
                    return done
                last_pk, count = batch
                done += count
                progress.advance(task, count)
    finally:
        await engine.dispose()
