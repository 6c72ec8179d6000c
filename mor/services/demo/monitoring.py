"""The demo's patients followed from home: the featured patients with high blood pressure
or diabetes, and some of their centres' other chronic patients, each enrolled by the
centre's nurse two months ago, with a reading most mornings since. Their readings tell
the stories a nurse meets on the worklist: one blood pressure in crisis this morning,
one rising week on week, one out of range, one whose readings stopped, and most within
their targets, which the control-rate chart counts.

The plans are written through the enrolling service, as the nurse; the readings, which
phones and meters would have sent day by day, are inserted in bulk shaped as the
reading service shapes them; then the alert rules run on every plan, as the watcher
would have."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final

from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.fhir.store import NewResource, Store, prepare_new
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.alerts import evaluate_plan
from mor.services.monitoring.plans import enrol
from mor.services.monitoring.readings import Reading, key_of, observation_of

DAYS: Final = 60
# How many of each centre's other chronic patients the nurse follows from home.
OTHERS_PER_CENTRE: Final = 8


@dataclass(frozen=True, slots=True)
class Followed:
    patient_id: str
    centre_slug: str
    conditions: tuple[str, ...]
    story: str  # crisis, rising, high, stopped, steady


def stories(count: int) -> list[str]:
    """The featured patients' stories first (the first two: the worklist's top), the
    others mostly steady."""
    told = ["crisis", "rising", "high", "stopped"]
    return [told[i] if i < len(told) else "steady" for i in range(count)]


async def follow_from_home(store: Store, zone_now: datetime, followed: Sequence[Followed],
                           rng: random.Random) -> int:
    """Enrol each patient, insert their readings, run the rules; returns how many
    readings were inserted."""
    started = zone_now - timedelta(days=DAYS)
    nurses: dict[str, Principal] = {}
    new: list[NewResource] = []
    plans = []
    for person in followed:
        nurse = nurses.get(person.centre_slug)
        if nurse is None:
            account = await Accounts(store.engine).find(f"nurse.{person.centre_slug}")
            assert account is not None, "the demo hires the nurses first"
            nurse = nurses[person.centre_slug] = await person_caller(store, account)
        programmes = [p for p, code in (("hypertension", "I10"), ("diabetes", "E11"))
                      if code in person.conditions] or ["hypertension"]
        plan = await enrol(store, nurse, person.patient_id, programmes, now=started)
        plans.append(plan.id)
        for reading in readings_of(person, plan.kinds, zone_now, rng):
            new.append(prepare_new(observation_of(reading, person.patient_id, plan.id)))
    async with store.writing(EVERYTHING) as tx:
        await tx.insert_new(new)
    for plan_id in plans:
        await evaluate_plan(store, plan_id, now=zone_now)
    return len(new)


def readings_of(person: Followed, kinds: Sequence[str], now: datetime, rng: random.Random
                ) -> list[Reading]:
    today = now.date()
    made = []
    usual_systolic = rng.randint(124, 136)
    usual_glucose = rng.randint(100, 125)
    weight = float(rng.randint(55, 85))
    last_day = DAYS - (6 if person.story == "stopped" else 0)
    for back in range(DAYS, -1, -1):
        day = today - timedelta(days=back)
        if DAYS - back > last_day or rng.random() < 0.1:
            continue  # readings stopped, or a morning missed
        taken = datetime.combine(day, time(7, rng.randint(0, 45)), now.tzinfo)
        if taken > now:
            # Started before this morning's reading time: today's came in a little while
            # ago, so the demo tells its stories (the crisis too) at any hour.
            taken = now - timedelta(minutes=rng.randint(20, 50))
        systolic = usual_systolic + rng.randint(-6, 6) + _story_rise(person.story, back)
        diastolic = round(systolic * 0.62) + rng.randint(-3, 3)
        if "bp" in kinds:
            made.append(_reading(person, "bp", taken, {
                "systolic": systolic, "diastolic": diastolic,
                "pulse": rng.randint(64, 88)}))
        if "glucose" in kinds:
            glucose = usual_glucose + rng.randint(-12, 12) + (
                _story_rise(person.story, back) * 2 if person.story in ("rising", "high")
                else 0)
            made.append(_reading(person, "glucose", taken + timedelta(minutes=5),
                                 {"glucose": glucose}, "fasting"))
        if "weight" in kinds and back % 7 == 0:
            made.append(_reading(person, "weight", taken + timedelta(minutes=10),
                                 {"weight": weight + rng.choice((-0.5, 0, 0.5))}))
    return made


def _story_rise(story: str, back: int) -> int:
    if story == "crisis" and back == 0:
        return 58  # this morning: about 186/115
    if story == "rising":
        return 0 if back > 7 else 18  # the last week well above the one before
    if story == "high" and back in (1, 3):
        return 30  # about 160/99 twice this week
    return 0


def _reading(person: Followed, kind: str, taken: datetime, values: dict[str, float],
             context: str | None = None) -> Reading:
    # Keys as the patient's phone would have made them, stable across runs.
    key = key_of(person.patient_id, kind, taken.isoformat())
    return Reading(kind, taken, values, context, key=key)
