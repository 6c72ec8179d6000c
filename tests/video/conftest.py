"""A health centre with a doctor and a nurse, and patients booked for tomorrow's video
consults: the consults are opened with tomorrow's clock (``now``), so every test sees
the same day whatever the hour it runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import httpx
import pytest

from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.services.scheduling.booking import book, free_times
from mor.services.staff import add_account
from tests.auth.people import PASSWORD
from tests.scheduling.centre import BANGKOK, MadeCentre, make_centre, patient_caller


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(datetime.now(BANGKOK).date() + timedelta(days=1),
                            time(hour, minute), BANGKOK)


@dataclass(frozen=True, slots=True)
class Person:
    caller: Principal
    id: str  # of their Patient or Practitioner


@dataclass(frozen=True, slots=True)
class Booked:
    patient: Person
    appointment_id: str
    start: datetime


@dataclass(frozen=True, slots=True)
class Centre:
    made: MadeCentre
    doctor: Person  # on the roster: the patients book them
    nurse: Person

    @property
    def id(self) -> str:
        return self.made.centre.id

    async def booking(self, store: Store, slot: int = 0) -> Booked:
        """A new patient booked for tomorrow's ``slot``-th time (09:00, 09:15, ...)."""
        times = await free_times(store, self.made.service.id, tomorrow_at(0),
                                 tomorrow_at(23))
        caller, patient_id = await patient_caller(store)
        booking = await book(store, caller, patient_id, times[slot].slot_id)
        return Booked(Person(caller, patient_id), booking.appointment_id, booking.start)


async def clinician_at(store: Store, centre_id: str, role: Role, name: str) -> Person:
    account = await add_account(store, f"{role.value}-{uuid.uuid4().hex[:8]}", PASSWORD,
                                role, name=name, organizations=(centre_id,))
    return Person(await person_caller(store, account),
                  (account.fhir_user or "").removeprefix("Practitioner/"))


async def centre_with_staff(store: Store) -> Centre:
    made = await make_centre(store)
    account = await Accounts(store.engine).find(made.doctor_username)
    assert account is not None
    doctor = Person(await person_caller(store, account),
                    (account.fhir_user or "").removeprefix("Practitioner/"))
    return Centre(made, doctor, await clinician_at(store, made.centre.id, Role.NURSE,
                                                   "Nurse Ploy"))


@pytest.fixture
def store(client: httpx.AsyncClient) -> Store:
    found: Store = client.app.state.store  # type: ignore[attr-defined]
    return found


@pytest.fixture
async def centre(store: Store) -> Centre:
    return await centre_with_staff(store)
