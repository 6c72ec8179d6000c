"""The medicines' way to the patient: the ``deliver-medicines`` Task's businessStatus
(``urn:mor:delivery-status``) moves

    packed -> on-the-way (rider, post) -> delivered | returned
    packed -> ready-for-pickup (pickup) -> picked-up | returned

When the patient has them the Task is ``completed``, and so are its
``MedicationDispense``s (``whenHandedOver``) and ``MedicationRequest``s (all they asked
for is done). A returned parcel fails the Task and stops the dispenses; the requests stay
``active``, as the medicines are still owed.

Each move is a new version of the Task, so its ``_history`` is the delivery's story,
which the patient reads as themselves (the Task is ``for`` them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, NamedTuple

from mor.auth.policy import Principal
from mor.fhir.errors import Forbidden, NotFound
from mor.fhir.interactions import dispatch
from mor.fhir.permissions import Access
from mor.fhir.requests import FhirRequest
from mor.fhir.store import Store
from mor.messages import N_
from mor.services import fhir_calls
from mor.services.pharmacy.prescription import (
    DELIVER_CODE,
    DELIVERY_STATUS_SYSTEM,
    PRESCRIPTION_STATUS_SYSTEM,
    VERIFY_CODE,
    PharmacyRefused,
    WrongStep,
    business_status,
    changed,
    check_works_at,
    coded,
    now_text,
    pharmacist,
    reference_id,
    version,
    write,
)
from mor.services.records.visit_orders import TASK_SYSTEM

PACKED: Final = "packed"
ON_THE_WAY: Final = "on-the-way"
READY_FOR_PICKUP: Final = "ready-for-pickup"
DELIVERED: Final = "delivered"
PICKED_UP: Final = "picked-up"
RETURNED: Final = "returned"
# The step a story starts with: the pharmacist accepted the prescription.
CHECKED: Final = "checked"
HANDED_OVER: Final = frozenset({DELIVERED, PICKED_UP})
# What may follow each step, by delivery method.
_NEXT: Final[dict[tuple[str, str], frozenset[str]]] = {
    (PACKED, "rider"): frozenset({ON_THE_WAY}),
    (PACKED, "post"): frozenset({ON_THE_WAY}),
    (PACKED, "pickup"): frozenset({READY_FOR_PICKUP}),
    (ON_THE_WAY, "rider"): frozenset({DELIVERED, RETURNED}),
    (ON_THE_WAY, "post"): frozenset({DELIVERED, RETURNED}),
    (READY_FOR_PICKUP, "pickup"): frozenset({PICKED_UP, RETURNED}),
}
# For a person: what each step is called (msgids).
STEP_NAMES: Final = {
    CHECKED: N_("checked by the pharmacist"), PACKED: N_("packed"),
    ON_THE_WAY: N_("on the way"), READY_FOR_PICKUP: N_("ready to pick up"),
    DELIVERED: N_("delivered"), PICKED_UP: N_("picked up"), RETURNED: N_("returned"),
}
_MOST_STEPS: Final = 100


def next_steps(status: str, method: str) -> list[str]:
    """What a delivery at ``status`` may move to, in the order a page offers them."""
    order = (ON_THE_WAY, READY_FOR_PICKUP, DELIVERED, PICKED_UP, RETURNED)
    allowed = _NEXT.get((status, method), frozenset())
    return [step for step in order if step in allowed]


class Step(NamedTuple):
    status: str  # "checked", then the delivery statuses
    when: str  # FHIR dateTime


async def advance(store: Store, caller: Principal, delivery_task_id: str, to: str, *,
                  now: datetime | None = None) -> None:
    """Move the delivery to its next step ``to``; a step that cannot follow the current
    one is refused (WrongStep, whose ``current`` and ``to`` are msgids too)."""
    who = pharmacist(caller)
    if to not in STEP_NAMES or to == CHECKED:
        raise WrongStep(N_("{to} is not a step of a delivery"), to=to)
    access = Access("GET", f"Task/{delivery_task_id}/$delivery", "")
    async with fhir_calls.reading(store, caller, access) as reads:
        found = await reads.search("Task", [
            ("_id", delivery_task_id), ("code", DELIVER_CODE),
            ("_include", "Task:based-on"),
            ("_revinclude:iterate", "MedicationDispense:prescription"), ("_count", "1")])
    if not found.matches:
        raise PharmacyRefused(N_("There is no such delivery, or it is not shared with you"))
    task = found.matches[0]
    check_works_at(who, reference_id(task.get("owner"), "Organization"))
    current = business_status(task, DELIVERY_STATUS_SYSTEM) or ""
    if to not in _NEXT.get((current, method_of(task)), frozenset()):
        raise WrongStep(N_("A delivery that is {current} cannot become {to}"),
                        current=STEP_NAMES.get(current, current), to=STEP_NAMES[to])
    at = now_text(now)
    requests = [r for r in found.included if r.get("resourceType") == "MedicationRequest"]
    wanted = {f"MedicationRequest/{r['id']}" for r in requests}
    dispenses = [d for d in found.included if d.get("resourceType") == "MedicationDispense"
                 and d.get("status") == "in-progress"
                 and any(p.get("reference") in wanted
                         for p in d.get("authorizingPrescription") or ())]
    writes: list[dict[str, Any]] = []
    status = task.get("status")
    if to in HANDED_OVER:
        status = "completed"
        writes += [changed(d, status="completed", whenHandedOver=at) for d in dispenses]
        writes += [changed(r, status="completed") for r in requests
                   if r.get("status") == "active"]
    elif to == RETURNED:
        status = "failed"
        writes += [changed(d, status="stopped") for d in dispenses]
    writes.insert(0, changed(task, status=status, lastModified=at,
                             businessStatus=coded(DELIVERY_STATUS_SYSTEM, to)))
    await write(store, caller, writes, {f"Task/{delivery_task_id}": version(task)})


async def delivery_story(store: Store, caller: Principal, delivery_task_id: str
                         ) -> list[Step]:
    """The steps of the delivery, oldest first, from when the pharmacist accepted the
    prescription; for the patient, the pharmacist, or anyone who may read the Task."""
    versions = await _history(store, caller, f"Task/{delivery_task_id}")
    if not versions or _code(versions[-1]) != DELIVER_CODE:
        raise PharmacyRefused(N_("There is no such delivery, or it is not shared with you"))
    # Accepted is the first version of the pharmacist's Task that is completed.
    checked = next((step for step in map(_checked, await _verifications(
        store, caller, versions[-1])) if step is not None), None)
    steps = [checked] if checked is not None else []
    for task in versions:
        status = business_status(task, DELIVERY_STATUS_SYSTEM)
        # A version that changed something else (a note, a correction) is no new step.
        if status is not None and (not steps or steps[-1].status != status):
            steps.append(Step(status, str(task.get("lastModified", ""))))
    return steps


def method_of(task: dict[str, Any]) -> str:
    for item in task.get("input") or ():
        if any(c.get("code") == "method" for c in (item.get("type") or {}).get("coding", ())):
            return str(item.get("valueCode", ""))
    return ""


async def _verifications(store: Store, caller: Principal, delivery: dict[str, Any]
                         ) -> list[dict[str, Any]]:
    """The history, oldest first, of the pharmacist's Task of the same prescription."""
    first = next(iter(delivery.get("basedOn") or ()), None)
    if first is None:
        return []
    tasks = await fhir_calls.search(store, caller, "Task", [
        ("code", VERIFY_CODE), ("based-on", str(first.get("reference"))), ("_count", "1")])
    return await _history(store, caller, f"Task/{tasks[0]['id']}") if tasks else []


def _checked(task: dict[str, Any]) -> Step | None:
    if task.get("status") == "completed" and business_status(
            task, PRESCRIPTION_STATUS_SYSTEM) is not None:
        return Step(CHECKED, str(task.get("lastModified", "")))
    return None


async def _history(store: Store, caller: Principal, path: str) -> list[dict[str, Any]]:
    """Every version of ``path`` the caller may see, oldest first (none if they may not
    see it)."""
    try:
        response = await dispatch(store, FhirRequest(
            method="GET", path=f"{path}/_history", caller=caller,
            params=[("_count", str(_MOST_STEPS))]))
    except (NotFound, Forbidden):
        return []
    entries = (response.body or {}).get("entry", [])
    return [e["resource"] for e in reversed(entries) if "resource" in e]


def _code(task: dict[str, Any]) -> str:
    coding: dict[str, Any] = next(iter((task.get("code") or {}).get("coding") or ()), {})
    if coding.get("system") != TASK_SYSTEM:
        return ""
    return f"{TASK_SYSTEM}|{coding.get('code')}"
