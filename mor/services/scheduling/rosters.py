"""Staff rosters: which clinician offers which service when.

A roster entry is a ``PractitionerRole`` (the practitioner at the centre, for one
service, with its weekly ``availableTime``) and the ``Schedule`` whose slots are that
time, cut to the service's slot length (see :mod:`.slots`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from mor.fhir.permissions import Caller
from mor.fhir.store import Store, new_id
from mor.fhir.visibility import EVERYTHING
from mor.messages import N_
from mor.services.fhir_calls import transaction
from mor.services.person_names import display_name
from mor.services.scheduling.codes import DAYS_OF_WEEK, SERVICE_KINDS, SERVICE_KINDS_SYSTEM
from mor.services.scheduling.lookup import find, reference_id
from mor.services.scheduling.offered import Service

_ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/practitioner-role"


@dataclass(frozen=True, slots=True)
class Shift:
    """Weekly hours: on these days, from ``start`` to ``end``."""

    days: tuple[str, ...]  # of DAYS_OF_WEEK
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class RosterEntry:
    schedule_id: str
    role_id: str
    practitioner_id: str
    practitioner_name: str
    service_id: str
    shifts: tuple[Shift, ...]
    active: bool = True


class RosterError(ValueError):
    """A roster entry that cannot be saved, with the reason for the administrator."""


async def roster_of(store: Store, centre_id: str) -> list[RosterEntry]:
    """The centre's roster: every active entry, by practitioner's name."""
    async with store.reading(EVERYTHING) as tx:
        roles = await find(tx, "PractitionerRole", [
            ("organization", f"Organization/{centre_id}"), ("active", "true"),
            ("service:missing", "false")])
        schedules = await find(tx, "Schedule", [
            ("actor", ",".join(f"PractitionerRole/{r['id']}" for r in roles))]) if roles else []
        practitioner_ids = sorted({p for r in roles if (p := reference_id(
            r.get("practitioner"), "Practitioner"))})
        practitioners = await find(tx, "Practitioner", [
            ("_id", ",".join(practitioner_ids))]) if practitioner_ids else []
    names = {p["id"]: practitioner_name(p) for p in practitioners}
    by_role = {reference_id(actor, "PractitionerRole"): s for s in schedules
               for actor in s.get("actor") or () if reference_id(actor, "PractitionerRole")}
    entries = []
    for role in roles:
        schedule = by_role.get(role["id"])
        practitioner_id = reference_id(role.get("practitioner"), "Practitioner") or ""
        services = [reference_id(s, "HealthcareService") for s in
                    role.get("healthcareService") or ()]
        if schedule is None or not services or services[0] is None:
            continue
        entries.append(RosterEntry(schedule["id"], role["id"], practitioner_id,
                                   names.get(practitioner_id, practitioner_id), services[0],
                                   shifts_of(role), bool(schedule.get("active", True))))
    return sorted(entries, key=lambda e: (e.practitioner_name, e.service_id))


async def save_roster_entry(store: Store, caller: Caller, service: Service,
                            practitioner_id: str, shifts: tuple[Shift, ...],
                            entry: RosterEntry | None = None) -> RosterEntry:
    """Add (``entry`` None) or change a roster entry, as ``caller``; then make its slots
    with :func:`mor.services.scheduling.slots.refresh_slots`."""
    if not shifts:
        raise RosterError(N_("Give the days and hours this clinician offers the service"))
    for shift in shifts:
        if not shift.days or any(d not in DAYS_OF_WEEK for d in shift.days):
            raise RosterError(N_("Choose at least one day of the week for each shift"))
        if shift.end <= shift.start:
            raise RosterError(N_("A shift must end after it starts"))
    async with store.reading(EVERYTHING) as tx:
        practitioners = await find(tx, "Practitioner", [("_id", practitioner_id)], limit=1)
        roles = await find(tx, "PractitionerRole", [
            ("practitioner", f"Practitioner/{practitioner_id}"), ("active", "true")])
    if not practitioners:
        raise RosterError(N_("There is no such clinician"))
    _check_free(shifts, [r for r in roles if r.get("healthcareService")
                         and (entry is None or r["id"] != entry.role_id)])
    roles = [r for r in roles if reference_id(r.get("organization"), "Organization")
             == service.centre_id]
    codes = next((r["code"] for r in roles if r.get("code")), None)
    if codes is None:
        raise RosterError(N_("This clinician does not work at this health centre; add "
                             "them to its staff first"))
    role_id = entry.role_id if entry else new_id()
    schedule_id = entry.schedule_id if entry else new_id()
    role = _role(practitioner_id, service, shifts, codes)
    await transaction(store, caller, [
        (f"PractitionerRole/{role_id}", role),
        (f"Schedule/{schedule_id}", _schedule(role_id, service, practitioner_id)),
    ])
    return RosterEntry(schedule_id, role_id, practitioner_id,
                       practitioner_name(practitioners[0]), service.id, shifts)


def _check_free(shifts: tuple[Shift, ...], rostered: list[dict[str, Any]]) -> None:
    """A clinician is in one clinic at a time, at whichever centre."""
    for role in rostered:
        for other in shifts_of(role):
            for shift in shifts:
                if set(shift.days) & set(other.days) and (
                        shift.start < other.end and other.start < shift.end):
                    raise RosterError(N_("This clinician is on the roster at that time "
                                         "already; take that entry off first or choose "
                                         "other hours"))


def shifts_of(role: dict[str, Any]) -> tuple[Shift, ...]:
    shifts = []
    for available in role.get("availableTime") or ():
        if available.get("availableStartTime") and available.get("availableEndTime"):
            shifts.append(Shift(
                tuple(d for d in DAYS_OF_WEEK if d in available.get("daysOfWeek", ())),
                time.fromisoformat(available["availableStartTime"]),
                time.fromisoformat(available["availableEndTime"])))
    return tuple(shifts)


def practitioner_name(practitioner: dict[str, Any]) -> str:
    return display_name(practitioner, with_prefix=True) or str(practitioner.get("id", ""))


def _role(practitioner_id: str, service: Service, shifts: tuple[Shift, ...],
          codes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole", "active": True,
        "practitioner": {"reference": f"Practitioner/{practitioner_id}"},
        "organization": {"reference": f"Organization/{service.centre_id}"},
        "location": [{"reference": f"Location/{service.location_id}"}],
        "healthcareService": [{"reference": f"HealthcareService/{service.id}"}],
        "code": codes,
        "specialty": [_kind(service)],
        "availableTime": [{"daysOfWeek": list(s.days),
                           "availableStartTime": s.start.isoformat("seconds"),
                           "availableEndTime": s.end.isoformat("seconds")} for s in shifts],
    }


def _schedule(role_id: str, service: Service, practitioner_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Schedule", "active": True,
        "serviceType": [_kind(service)],
        "actor": [{"reference": f"PractitionerRole/{role_id}"},
                  {"reference": f"Practitioner/{practitioner_id}"},
                  {"reference": f"HealthcareService/{service.id}"},
                  {"reference": f"Location/{service.location_id}"}],
    }


def _kind(service: Service) -> dict[str, Any]:
    return {"coding": [{"system": SERVICE_KINDS_SYSTEM, "code": service.kind,
                        "display": SERVICE_KINDS[service.kind]}]}




async def clinicians_of(store: Store, centre_id: str) -> list[tuple[str, str]]:
    """The doctors and nurses working at a centre, as (practitioner id, name), by name."""
    return [(id, name) for id, name, _ in await staff_of(store, centre_id,
                                                         ("doctor", "nurse"))]


async def staff_of(store: Store, centre_id: str,
                   roles: tuple[str, ...] = ("doctor", "nurse", "pharmacist")
                   ) -> list[tuple[str, str, str]]:
    """Those working at a centre in ``roles`` (practitioner-role codes), as (practitioner
    id, name, role), by name."""
    async with store.reading(EVERYTHING) as tx:
        found = await find(tx, "PractitionerRole", [
            ("organization", f"Organization/{centre_id}"), ("active", "true"),
            ("role", ",".join(f"{_ROLE_SYSTEM}|{role}" for role in roles))])
        role_of: dict[str, str] = {}
        for entry in found:
            practitioner = reference_id(entry.get("practitioner"), "Practitioner")
            codes = [c.get("code") for concept in entry.get("code") or ()
                     for c in concept.get("coding") or () if c.get("system") == _ROLE_SYSTEM]
            if practitioner and codes:
                role_of.setdefault(practitioner, str(codes[0]))
        ids = sorted(role_of)
        practitioners = await find(tx, "Practitioner", [("_id", ",".join(ids))]) if ids else []
    return sorted(((p["id"], practitioner_name(p), role_of[p["id"]]) for p in practitioners),
                  key=lambda row: row[1])


async def end_roster_entry(store: Store, caller: Caller, entry: RosterEntry) -> None:
    """Take an entry off the roster: its role and schedule become inactive, and the next
    refresh removes its free slots (booked ones stay for the patients who hold them)."""
    async with store.reading(EVERYTHING) as tx:
        role = (await tx.read("PractitionerRole", entry.role_id)).resource()
        schedule = (await tx.read("Schedule", entry.schedule_id)).resource()
    await transaction(store, caller, [
        (f"PractitionerRole/{entry.role_id}", role | {"active": False}),
        (f"Schedule/{entry.schedule_id}", schedule | {"active": False}),
    ])
