"""The services a health centre offers (``HealthcareService``): which kind, how long a
slot lasts and how many patients one slot takes, and the days it is closed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from mor.fhir.permissions import Caller
from mor.fhir.store import Store, Transaction, new_id
from mor.fhir.visibility import EVERYTHING
from mor.messages import N_
from mor.services.fhir_calls import transaction
from mor.services.scheduling.codes import (
    SERVICE_KINDS,
    SERVICE_KINDS_SYSTEM,
    SLOT_CAPACITY_URL,
    SLOT_MINUTES_URL,
    UCUM,
)
from mor.services.scheduling.lookup import find, reference_id


@dataclass(frozen=True, slots=True)
class ClosedDay:
    day: date
    reason: str


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    centre_id: str
    location_id: str
    kind: str  # a key of SERVICE_KINDS
    slot_minutes: int = 15
    capacity: int = 1  # patients one slot takes, each with a Slot of their own
    closed: tuple[ClosedDay, ...] = ()
    active: bool = True

    def is_closed(self, day: date) -> bool:
        return any(c.day == day for c in self.closed)


MAX_SLOT_MINUTES: Final = 240


class ServiceNotFound(LookupError):
    pass


async def services_of(store: Store, centre_id: str, *, include_inactive: bool = False
                      ) -> list[Service]:
    """A centre's services, in the order of SERVICE_KINDS."""
    params = [("organization", f"Organization/{centre_id}")]
    if not include_inactive:
        params.append(("active", "true"))
    async with store.reading(EVERYTHING) as tx:
        found = [_service(s) for s in await find(tx, "HealthcareService", params)]
    order = list(SERVICE_KINDS)
    return sorted((s for s in found if s is not None),
                  key=lambda s: order.index(s.kind) if s.kind in order else len(order))


async def get_service(store: Store, service_id: str) -> Service:
    async with store.reading(EVERYTHING) as tx:
        return await read_service(tx, service_id)


async def read_service(tx: Transaction, service_id: str) -> Service:
    """The service, read in a transaction the caller has open."""
    found = await find(tx, "HealthcareService", [("_id", service_id)], limit=1)
    service = _service(found[0]) if found else None
    if service is None:
        raise ServiceNotFound(service_id)
    return service


async def save_service(store: Store, caller: Caller, service: Service) -> Service:
    """Add or change a service (``service.id`` empty: a new one), as ``caller``."""
    if service.kind not in SERVICE_KINDS:
        raise ValueError(f"{service.kind!r} is not a kind of service; the kinds are "
                         f"{', '.join(SERVICE_KINDS)}")
    if not 5 <= service.slot_minutes <= MAX_SLOT_MINUTES:
        raise ValueError(N_("A slot lasts from 5 minutes to 4 hours"))
    if not 1 <= service.capacity <= 50:
        raise ValueError(N_("A slot takes from 1 to 50 patients"))
    saved = Service(service.id or new_id(), service.centre_id, service.location_id,
                    service.kind, service.slot_minutes, service.capacity,
                    tuple(sorted(service.closed, key=lambda c: c.day)), service.active)
    await transaction(store, caller, [(f"HealthcareService/{saved.id}", _resource(saved))])
    return saved


def _resource(service: Service) -> dict[str, Any]:
    return {
        "resourceType": "HealthcareService", "active": service.active,
        "providedBy": {"reference": f"Organization/{service.centre_id}"},
        "location": [{"reference": f"Location/{service.location_id}"}],
        "type": [{"coding": [{"system": SERVICE_KINDS_SYSTEM, "code": service.kind,
                              "display": SERVICE_KINDS[service.kind]}]}],
        "name": SERVICE_KINDS[service.kind],
        "appointmentRequired": True,
        "extension": [
            {"url": SLOT_MINUTES_URL, "valueDuration": {
                "value": service.slot_minutes, "unit": "min", "system": UCUM, "code": "min"}},
            {"url": SLOT_CAPACITY_URL, "valuePositiveInt": service.capacity},
        ],
        **({"notAvailable": [
            {"description": c.reason or "closed",
             "during": {"start": c.day.isoformat(), "end": c.day.isoformat()}}
            for c in service.closed]} if service.closed else {}),
    }


def _service(resource: dict[str, Any]) -> Service | None:
    centre_id = reference_id(resource.get("providedBy"), "Organization")
    locations = [reference_id(r, "Location") for r in resource.get("location") or ()]
    kinds = [c.get("code") for t in resource.get("type") or () for c in t.get("coding") or ()
             if c.get("system") == SERVICE_KINDS_SYSTEM]
    if centre_id is None or not locations or locations[0] is None or not kinds:
        return None
    extensions = {e.get("url"): e for e in resource.get("extension") or ()}
    minutes = (extensions.get(SLOT_MINUTES_URL) or {}).get("valueDuration", {}).get("value")
    capacity = (extensions.get(SLOT_CAPACITY_URL) or {}).get("valuePositiveInt")
    closed = []
    for entry in resource.get("notAvailable") or ():
        start = (entry.get("during") or {}).get("start", "")[:10]
        if start:
            closed.append(ClosedDay(date.fromisoformat(start), entry.get("description", "")))
    return Service(resource["id"], centre_id, locations[0], str(kinds[0]),
                   int(minutes or 15), int(capacity or 1), tuple(closed),
                   bool(resource.get("active", True)))
