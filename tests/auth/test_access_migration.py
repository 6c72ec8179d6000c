"""A database from before access control is upgraded with the access rows of what it
holds, so its patients' records are visible to their doctors from the first request."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mor.config import Settings
from mor.db.engine import create_engine
from mor.db.migrate import downgrade, upgrade
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING, Visibility


def test_upgrading_fills_the_access_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url)
    asyncio.run(_write(url))
    downgrade(url, "0007")  # as a database of the version before access control
    assert asyncio.run(_visible_to_patient(url)) == set()
    upgrade(url)
    assert asyncio.run(_visible_to_patient(url)) == {"Patient/p1", "Observation/o1"}


async def _write(url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    try:
        async with Store(engine).writing(EVERYTHING) as tx:
            await tx.create({"resourceType": "Patient"}, resource_id="p1")
            await tx.create({"resourceType": "Patient"}, resource_id="p2")
            for obs_id, patient in (("o1", "p1"), ("o2", "p2")):
                await tx.create({"resourceType": "Observation", "status": "final",
                                 "code": {"text": "weight"},
                                 "subject": {"reference": f"Patient/{patient}"}},
                                resource_id=obs_id)
    finally:
        await engine.dispose()


async def _visible_to_patient(url: str) -> set[str]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with Store(engine).reading(Visibility(patients=frozenset({"p1"}))) as tx:
            found = await tx.read_many(list(range(1, 10)))
        return {stored.reference for stored in found}
    finally:
        await engine.dispose()
