"""Reading the store as mor itself, to see what the pharmacy wrote (tests only)."""

from __future__ import annotations

from typing import Any

from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.lookup import find


async def current(store: Store, path: str) -> dict[str, Any]:
    resource_type, _, resource_id = path.partition("/")
    async with store.reading(EVERYTHING) as tx:
        return (await tx.read(resource_type, resource_id)).resource()


async def of_patient(store: Store, resource_type: str, patient_id: str
                     ) -> list[dict[str, Any]]:
    async with store.reading(EVERYTHING) as tx:
        return await find(tx, resource_type, [("patient", f"Patient/{patient_id}")])


async def requests_of(store: Store, task_id: str) -> list[dict[str, Any]]:
    task = await current(store, f"Task/{task_id}")
    return [await current(store, r["reference"]) for r in task["basedOn"]]
