"""The pharmacist's check of a prescription: accept it, or query it back to the
prescriber (docs/consultation-record.md).

- Accepted: the ``verify-prescription`` Task becomes ``completed``, owned by the
  pharmacist, businessStatus ``urn:mor:prescription-status|accepted``.
- Queried back: the Task becomes ``on-hold`` with the question as ``statusReason.text``,
  and every ``MedicationRequest`` of the prescription ``on-hold``. Once the prescriber
  has answered (by phone, say), the pharmacist may still accept it: the requests are
  then ``active`` again.
- Answered: the prescriber's answer follows the question in the Task's ``note``; the
  Task is ``requested`` again and its requests ``active``, for the pharmacist to check.

Each change is one transaction on the versions read (If-Match), so of two pharmacists
pressing at once, one wins and the other is told.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from mor.auth.policy import Principal
from mor.fhir.store import Store
from mor.messages import N_
from mor.services.pharmacy.prescription import (
    ACCEPTED,
    PRESCRIPTION_STATUS_SYSTEM,
    VERIFY_CODE,
    Loaded,
    NotThePharmacist,
    WrongStep,
    changed,
    check_works_at,
    coded,
    load,
    now_text,
    pharmacist,
    write,
)

_CHECKABLE: Final = frozenset({"requested", "on-hold"})
_MOST_QUESTION_CHARACTERS: Final = 2000


async def accept(store: Store, caller: Principal, task_id: str, *,
                 now: datetime | None = None) -> None:
    """The pharmacist has checked the prescription and will dispense it."""
    who = pharmacist(caller)
    found = await load(store, caller, task_id, VERIFY_CODE)
    check_works_at(who, found.centre)
    _check_open(found)
    at = now_text(now)
    task = {k: v for k, v in found.task.items() if k != "statusReason"}
    writes: list[dict[str, Any]] = [changed(
        task, status="completed", owner=who.reference, lastModified=at,
        businessStatus=coded(PRESCRIPTION_STATUS_SYSTEM, ACCEPTED))]
    # Put back on hold only by a query; anything else the prescriber did stands.
    writes += [changed(r, status="active") for r in found.requests
               if r.get("status") == "on-hold"]
    await write(store, caller, writes, found.versions())


async def query_back(store: Store, caller: Principal, task_id: str, question: str, *,
                     now: datetime | None = None) -> None:
    """Hold the prescription and ask the prescriber ``question``."""
    who = pharmacist(caller)
    text = question.strip()
    if not text:
        raise WrongStep(N_("Write the question for the prescriber"))
    if len(text) > _MOST_QUESTION_CHARACTERS:
        raise WrongStep(N_("Keep the question under 2000 characters"))
    found = await load(store, caller, task_id, VERIFY_CODE)
    check_works_at(who, found.centre)
    if found.task.get("status") != "requested":
        _check_open(found)
        raise WrongStep(N_("This prescription is queried back already; wait for the "
                           "prescriber's answer"))
    at = now_text(now)
    # The question is kept in the Task's notes too, where the prescriber's answer follows.
    notes = [*found.task.get("note", []),
             {"authorReference": who.reference, "time": at, "text": text}]
    writes = [changed(found.task, status="on-hold", statusReason={"text": text},
                      note=notes, lastModified=at),
              *(changed(r, status="on-hold") for r in found.requests
                if r.get("status") == "active")]
    await write(store, caller, writes, found.versions())


async def answer(store: Store, caller: Principal, task_id: str, text: str, *,
                 now: datetime | None = None) -> None:
    """The prescriber's answer to the pharmacist's question: the prescription goes back to
    the pharmacist to check, the answer in the Task's notes after the question."""
    account = caller.account
    words = text.strip()
    if not words:
        raise WrongStep(N_("Write your answer for the pharmacist"))
    if len(words) > _MOST_QUESTION_CHARACTERS:
        raise WrongStep(N_("Keep the answer under 2000 characters"))
    found = await load(store, caller, task_id, VERIFY_CODE)
    prescriber = (found.task.get("requester") or {}).get("reference")
    if account is None or account.fhir_user is None or account.fhir_user != prescriber:
        raise NotThePharmacist(N_("Only the prescriber answers the pharmacist's question"))
    if found.task.get("status") != "on-hold":
        raise WrongStep(N_("This prescription is not waiting for your answer"))
    at = now_text(now)
    task = {k: v for k, v in found.task.items() if k != "statusReason"}
    notes = [*task.get("note", []),
             {"authorReference": {"reference": prescriber}, "time": at, "text": words}]
    writes: list[dict[str, Any]] = [changed(task, status="requested", note=notes,
                                            lastModified=at)]
    writes += [changed(r, status="active") for r in found.requests
               if r.get("status") == "on-hold"]
    await write(store, caller, writes, found.versions())


def _check_open(found: Loaded) -> None:
    status = found.task.get("status")
    if status == "completed":
        raise WrongStep(N_("This prescription has been checked already"))
    if status not in _CHECKABLE:
        raise WrongStep(N_("This prescription was withdrawn; there is nothing to check"))
