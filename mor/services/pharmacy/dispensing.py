"""Dispensing an accepted prescription, and sending the medicines on their way, in one
transaction (docs/consultation-record.md):

- a ``MedicationDispense`` per medicine, ``in-progress`` until the patient has it, with
  the quantity and days' supply the prescriber asked for and their dosage as written;
- a ``deliver-medicines`` Task, businessStatus ``urn:mor:delivery-status|packed``, with
  the method (``rider``, ``post``, ``pickup``) and the tracking number as ``input``;
- the pharmacist's Task, on the version read, marked ``dispensed`` with the dispenses as
  its ``output``: a prescription is dispensed once, however many click.

The ``MedicationRequest``s stay ``active``: in R4 a request is ``completed`` when all it
asks for has been done, and the patient does not have the medicines until they are
handed over. Delivery completes them (mor.services.pharmacy.delivery).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal, get_args

from mor.auth.policy import Principal
from mor.fhir.store import Store
from mor.messages import N_
from mor.services.pharmacy.prescription import (
    ACCEPTED,
    DELIVER,
    DELIVERY_STATUS_SYSTEM,
    DISPENSED,
    PRESCRIPTION_STATUS_SYSTEM,
    VERIFY_CODE,
    Loaded,
    Pharmacist,
    WrongStep,
    business_status,
    changed,
    check_works_at,
    coded,
    load,
    now_text,
    pharmacist,
    write,
)
from mor.services.records.visit_clinical import new_id
from mor.services.records.visit_orders import TASK_SYSTEM

Method = Literal["rider", "post", "pickup"]
METHODS: Final = frozenset(get_args(Method))
PACKED: Final = "packed"
DELIVERY_INPUT_SYSTEM: Final = "urn:mor:delivery-input"
_MOST_TRACKING_CHARACTERS: Final = 100


async def dispense(store: Store, caller: Principal, task_id: str, method: Method,
                   tracking: str | None, *, now: datetime | None = None) -> str:
    """Dispense the accepted prescription of pharmacist's Task ``task_id``; returns the id
    of the delivery Task."""
    who = pharmacist(caller)
    if method not in METHODS:
        raise WrongStep(N_("Choose how the medicines go to the patient: by rider, by post "
                           "or picked up at the centre"))
    number = (tracking or "").strip() or None
    if number is not None and len(number) > _MOST_TRACKING_CHARACTERS:
        raise WrongStep(N_("That tracking number is too long; check it"))
    found = await load(store, caller, task_id, VERIFY_CODE)
    check_works_at(who, found.centre)
    _check_dispensable(found)
    at = now_text(now)
    dispenses = [_dispense(r, who, at) for r in found.requests]
    delivery = _delivery(found, who, method, number, at)
    task = changed(found.task, lastModified=at,
                   businessStatus=coded(PRESCRIPTION_STATUS_SYSTEM, DISPENSED),
                   output=[{"type": coded(PRESCRIPTION_STATUS_SYSTEM, DISPENSED),
                            "valueReference": {"reference": f"MedicationDispense/{d['id']}"}}
                           for d in dispenses])
    await write(store, caller, [task, *dispenses, delivery], found.versions())
    return str(delivery["id"])


def _check_dispensable(found: Loaded) -> None:
    stage = business_status(found.task, PRESCRIPTION_STATUS_SYSTEM)
    if found.task.get("status") != "completed" or stage not in (ACCEPTED, DISPENSED):
        raise WrongStep(N_("Check and accept the prescription before dispensing it"))
    if stage == DISPENSED:
        raise WrongStep(N_("This prescription has been dispensed already"))
    if not found.requests or any(r.get("status") != "active" for r in found.requests):
        raise WrongStep(N_("The prescriber changed this prescription after it was "
                           "checked; check it again"))


def _dispense(request: dict[str, Any], who: Pharmacist, at: str) -> dict[str, Any]:
    supply = request.get("dispenseRequest") or {}
    dispense: dict[str, Any] = {
        "resourceType": "MedicationDispense", "id": new_id(), "status": "in-progress",
        "medicationReference": request["medicationReference"],
        "subject": request["subject"],
        "performer": [{"actor": who.reference}],
        "authorizingPrescription": [{"reference": f"MedicationRequest/{request['id']}"}],
        "whenPrepared": at,
    }
    if "encounter" in request:
        dispense["context"] = request["encounter"]
    if "quantity" in supply:
        dispense["quantity"] = supply["quantity"]
    if "expectedSupplyDuration" in supply:
        dispense["daysSupply"] = supply["expectedSupplyDuration"]
    if "dosageInstruction" in request:
        dispense["dosageInstruction"] = request["dosageInstruction"]
    return dispense


def _delivery(found: Loaded, who: Pharmacist, method: Method, tracking: str | None,
              at: str) -> dict[str, Any]:
    inputs: list[dict[str, Any]] = [{"type": coded(DELIVERY_INPUT_SYSTEM, "method"),
                                     "valueCode": method}]
    if tracking is not None:
        inputs.append({"type": coded(DELIVERY_INPUT_SYSTEM, "tracking"),
                       "valueString": tracking})
    task: dict[str, Any] = {
        "resourceType": "Task", "id": new_id(), "status": "in-progress", "intent": "order",
        "code": {"coding": [{"system": TASK_SYSTEM, "code": DELIVER}],
                 "text": "Deliver the medicines"},
        "businessStatus": coded(DELIVERY_STATUS_SYSTEM, PACKED),
        "basedOn": [{"reference": f"MedicationRequest/{r['id']}"} for r in found.requests],
        "authoredOn": at, "lastModified": at, "requester": who.reference,
        "input": inputs,
    }
    for name in ("for", "encounter"):
        if name in found.task:
            task[name] = found.task[name]
    if found.centre is not None:
        task["owner"] = {"reference": f"Organization/{found.centre}"}
    return task
