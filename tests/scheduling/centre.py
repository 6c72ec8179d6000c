"""A health centre for scheduling tests: Bang Rak, with a general-practice service and a
doctor rostered on every day, made through the services an administrator's pages use."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo

from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.centres import Centre, CentreDetails, OpeningHours, save_centre
from mor.services.scheduling.codes import DAYS_OF_WEEK
from mor.services.scheduling.offered import Service, save_service
from mor.services.scheduling.rosters import RosterEntry, Shift, save_roster_entry
from mor.services.scheduling.slots import refresh_slots
from mor.services.staff import add_account
from tests.auth.people import PASSWORD

BANGKOK = ZoneInfo("Asia/Bangkok")
EVERY_DAY = DAYS_OF_WEEK


@dataclass(frozen=True, slots=True)
class MadeCentre:
    centre: Centre
    service: Service
    roster: RosterEntry
    admin: Principal
    doctor_username: str


def bang_rak() -> CentreDetails:
    return CentreDetails(
        names={"th": "ศูนย์บริการสาธารณสุข บางรัก", "en": "Bang Rak Health Centre"},
        districts={"th": "บางรัก", "en": "Bang Rak"}, address="Si Lom Road",
        city="Bangkok", country="TH", language="th", phone="02 000 0000",
        latitude=13.7262, longitude=100.5234,
        hours=(OpeningHours(EVERY_DAY, time(8), time(16)),))


async def admin_of(store: Store) -> Principal:
    admin = await Accounts(store.engine).add(f"admin-{uuid.uuid4().hex[:8]}", PASSWORD,
                                             Role.CENTRE_ADMIN)
    return await person_caller(store, admin)


async def make_centre(store: Store, *, shifts: tuple[Shift, ...] = (
        Shift(EVERY_DAY, time(9), time(10)),), slot_minutes: int = 15, capacity: int = 1,
        details: CentreDetails | None = None) -> MadeCentre:
    admin = await admin_of(store)
    centre = await save_centre(store, admin, details or bang_rak())
    service = await save_service(store, admin, Service(
        "", centre.id, centre.location_id, "general-practice", slot_minutes, capacity))
    doctor = f"doctor-{uuid.uuid4().hex[:8]}"
    account = await add_account(store, doctor, PASSWORD, Role.DOCTOR, name="Dr Somchai",
                                organizations=(centre.id,))
    practitioner = (account.fhir_user or "").removeprefix("Practitioner/")
    roster = await save_roster_entry(store, admin, service, practitioner, shifts)
    await refresh_slots(store, roster.schedule_id, zone=BANGKOK)
    return MadeCentre(centre, service, roster, admin, doctor)


async def patient_caller(store: Store, *, verified: bool = True) -> tuple[Principal, str]:
    """A patient with an account, and the id of their Patient."""
    async with store.writing(EVERYTHING) as tx:
        stored = await tx.create({"resourceType": "Patient",
                                  "name": [{"given": ["Malee"], "family": "Test"}]})
    # No password to hash: these patients never sign in, and a hundred hashes are slow.
    account = await Accounts(store.engine).add(
        f"patient-{uuid.uuid4().hex[:8]}", None, Role.PATIENT, password_hash="-",
        fhir_user=stored.reference, verified=verified)
    return await person_caller(store, account), stored.id
