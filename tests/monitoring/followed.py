"""Patients a health centre follows for high blood pressure, in a district, with the
readings they took, for the control-rate tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.control_rates import Quarter
from mor.services.monitoring.plans import enrol
from mor.services.monitoring.readings import Reading, record
from mor.services.monitoring.thresholds import CITY_DEFAULTS, Thresholds
from tests.scheduling.centre import BANGKOK, patient_caller
from tests.video.conftest import Centre

Q3: Final = Quarter(2026, 3)  # July to September 2026
ENROLLED = datetime(2026, 7, 1, 9, tzinfo=BANGKOK)


def at(month: int, day: int, hour: int = 8) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=BANGKOK)


@dataclass(frozen=True, slots=True)
class Followed:
    caller: Principal
    patient_id: str
    plan_id: str


async def followed(store: Store, centre: Centre, district: str | None,
                   readings: Sequence[tuple[datetime, float, float]] = (), *,
                   programmes: Sequence[str] = ("hypertension",),
                   thresholds: Thresholds = CITY_DEFAULTS,
                   enrolled: datetime = ENROLLED) -> Followed:
    """A patient of ``centre`` living in ``district``, enrolled in a plan, who took
    ``readings`` (when, systolic, diastolic)."""
    caller, patient_id = await patient_caller(store)
    async with store.writing(EVERYTHING) as tx:
        patient = (await tx.read("Patient", patient_id)).resource()
        patient["managingOrganization"] = {"reference": f"Organization/{centre.id}"}
        if district is not None:
            patient["address"] = [{"use": "home", "district": district, "city": "Bangkok"}]
        await tx.update("Patient", patient_id, patient)
    plan = await enrol(store, caller, patient_id, programmes, now=enrolled,
                       thresholds=thresholds)
    for taken, systolic, diastolic in readings:
        await record(store, caller, patient_id, Reading(
            "bp", taken, {"systolic": systolic, "diastolic": diastolic}), plan.id)
    return Followed(caller, patient_id, plan.id)


async def city_admin(store: Store) -> Principal:
    account = await Accounts(store.engine).add(
        f"city-{uuid.uuid4().hex[:8]}", None, Role.CITY_ADMIN, password_hash="-")
    return await person_caller(store, account)
