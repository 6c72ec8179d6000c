"""One prescription as the pharmacy works on it: its pharmacist's ``Task`` and its
``MedicationRequest``s, read as the pharmacist, and who may act on it.

The centre of a prescription is the one its medicines were sent to
(``MedicationRequest.performer``), which is also the Task's ``owner`` until a pharmacist
accepts it and becomes the owner. Only a pharmacist working there acts on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.errors import PreconditionFailed
from mor.fhir.permissions import Access
from mor.fhir.store import Store
from mor.messages import N_
from mor.services import fhir_calls
from mor.services.records.visit_orders import TASK_SYSTEM, VERIFY

DELIVER: Final = "deliver-medicines"
VERIFY_CODE: Final = f"{TASK_SYSTEM}|{VERIFY}"
DELIVER_CODE: Final = f"{TASK_SYSTEM}|{DELIVER}"
DELIVERY_STATUS_SYSTEM: Final = "urn:mor:delivery-status"
# The pharmacist's Task is ``completed`` both once accepted and once dispensed; its
# businessStatus tells the two apart, so the queue can search for what waits to be
# dispensed, and dispensing (on the Task's version) happens once.
PRESCRIPTION_STATUS_SYSTEM: Final = "urn:mor:prescription-status"
ACCEPTED: Final = "accepted"
DISPENSED: Final = "dispensed"


class PharmacyRefused(Exception):
    """Something the pharmacy cannot do; ``message`` is a msgid whose ``{name}`` fields
    are ``params``."""

    def __init__(self, message: str, **params: str) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


class NotThePharmacist(PharmacyRefused):
    """The caller is not a pharmacist of the prescription's health centre."""


class WrongStep(PharmacyRefused):
    """The prescription or delivery is not at a step where this can be done."""


class ChangedMeanwhile(PharmacyRefused):
    """Someone else changed it between reading and writing (two clicks at once)."""

    def __init__(self) -> None:
        super().__init__(N_("Someone else changed this at the same moment; open it again "
                            "to see what they did"))


@dataclass(frozen=True, slots=True)
class Pharmacist:
    practitioner_id: str
    organizations: tuple[str, ...]

    @property
    def reference(self) -> dict[str, str]:
        return {"reference": f"Practitioner/{self.practitioner_id}"}


@dataclass(frozen=True, slots=True)
class Loaded:
    """A Task and the MedicationRequests it is based on, each with its version."""

    task: dict[str, Any]
    requests: tuple[dict[str, Any], ...]

    @property
    def task_path(self) -> str:
        return f"Task/{self.task['id']}"

    @property
    def centre(self) -> str | None:
        owners = {reference_id(r.get("performer"), "Organization") for r in self.requests}
        owners.discard(None)
        if len(owners) == 1:
            return owners.pop()
        return reference_id(self.task.get("owner"), "Organization")

    def versions(self) -> dict[str, str]:
        """If-Match for the Task and its requests: what was read is what gets changed."""
        return {f"{r['resourceType']}/{r['id']}": version(r)
                for r in (self.task, *self.requests)}


def pharmacist(caller: Principal) -> Pharmacist:
    account = caller.account
    if account is None or account.role is not Role.PHARMACIST or not account.fhir_user_id:
        raise NotThePharmacist(N_("Only a pharmacist checks and dispenses prescriptions"))
    return Pharmacist(account.fhir_user_id, account.organizations)


def check_works_at(who: Pharmacist, centre: str | None) -> None:
    if centre is None or centre not in who.organizations:
        raise NotThePharmacist(N_("Only a pharmacist of the health centre the prescription "
                                  "was sent to can do this"))


async def load(store: Store, caller: Principal, task_id: str, code: str) -> Loaded:
    """The Task (with code ``code``) and its MedicationRequests, in one search."""
    access = Access("GET", f"Task/{task_id}/$pharmacy", "")
    async with fhir_calls.reading(store, caller, access) as reads:
        found = await reads.search("Task", [
            ("_id", task_id), ("code", code), ("_include", "Task:based-on"),
            ("_count", "1")])
    if not found.matches:
        raise PharmacyRefused(N_("There is no such prescription, or it is not shared with "
                                 "you"))
    requests = tuple(r for r in found.included if r.get("resourceType") == "MedicationRequest")
    return Loaded(found.matches[0], requests)


async def write(store: Store, caller: Principal, writes: Sequence[dict[str, Any]],
                if_match: Mapping[str, str]) -> None:
    """One transaction, refused as a whole when any of ``if_match`` changed meanwhile."""
    try:
        await fhir_calls.transaction(
            store, caller, [(f"{r['resourceType']}/{r['id']}", r) for r in writes],
            if_match=if_match)
    except PreconditionFailed:
        raise ChangedMeanwhile from None


def changed(resource: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
    """A copy to write back: ``meta`` is the store's, the rest as given."""
    return {**resource, **fields}


def version(resource: Mapping[str, Any]) -> str:
    return str((resource.get("meta") or {}).get("versionId", ""))


def business_status(task: Mapping[str, Any], system: str) -> str | None:
    for coding in (task.get("businessStatus") or {}).get("coding") or ():
        if coding.get("system") == system:
            return str(coding.get("code"))
    return None


def coded(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}], "text": code}


def reference_id(reference: Any, resource_type: str) -> str | None:
    if not isinstance(reference, dict):
        return None
    text = reference.get("reference")
    if not isinstance(text, str):
        return None
    kind, _, found = text.partition("/")
    return found if kind == resource_type and found else None


def now_text(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).replace(microsecond=0).isoformat()
