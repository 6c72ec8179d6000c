"""Storing the audit record of a request (the Caller builds it; see mor.fhir.permissions).

A write's record goes into the write's own transaction, so both commit or neither does;
the record of a read, or of a refused or failed request, goes into a group commit with
those of concurrent requests and is stored before the answer leaves.
"""

from __future__ import annotations

from typing import Any

from mor.fhir.permissions import Access, Caller
from mor.fhir.store import Store, Transaction
from mor.fhir.visibility import EVERYTHING


async def record_with_write(tx: Transaction, caller: Caller, access: Access) -> None:
    access.resources = tx.touched
    access.patients = await tx.patients_touched()
    event = caller.audit_event(access)
    if event is not None:
        # The same connection and transaction, seen by mor itself.
        await Transaction(tx.conn, EVERYTHING).create(event)


async def record_apart(store: Store, caller: Caller, access: Access) -> None:
    def build(patients: set[str]) -> dict[str, Any] | None:
        access.patients = patients
        return caller.audit_event(access)

    await store.append_record(build, list(access.resources), access.patients)
