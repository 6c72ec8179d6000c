"""Blood-pressure control rates: of the hypertensive patients a health centre follows from
home, how many were at their target in a calendar quarter, by the district they live in.

This is the WHO HEARTS control-rate indicator: the denominator is every patient followed
(an active home-monitoring plan for hypertension, ICD-10 I10, started before the quarter
ends), those without a blood-pressure reading in the quarter included, so a centre that
loses touch with its patients does not look better for it. A patient is at target when
the last blood-pressure reading they took in the quarter is below both numbers of their
plan's target (140/90 unless the plan has its own); at or above either is above target.
Readings come from any source (home, or the nurse's at a visit); those entered in error
are left out, and a last reading without both numbers counts as no reading.

Only counts leave this module, never names. A centre's doctors, nurses and
administrators see their own centres; the city's administrator sees any centre, or all
of them together. Each showing is recorded as an AuditEvent naming the query (the plans
searched and the quarter) and no patient: no one's record is shown.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.permissions import Access
from mor.fhir.search import compile_search
from mor.fhir.search.execution import narrowed
from mor.fhir.search.latest import latest_per_reference
from mor.fhir.store import Store, Transaction
from mor.fhir.visibility import EVERYTHING
from mor.messages import N_
from mor.services.monitoring.codes import (
    BLOOD_PRESSURE,
    ICD_10,
    LOINC,
    PROGRAMMES,
)
from mor.services.monitoring.plans import PLAN_SEARCH
from mor.services.monitoring.readings import Reading, reading_of
from mor.services.monitoring.thresholds import CITY_DEFAULTS, Thresholds, of_plan
from mor.services.records.elements import moment_of
from mor.services.scheduling.lookup import find, reference_id
from mor.services.scheduling.texts import in_language, texts_of

HYPERTENSION: Final = PROGRAMMES["hypertension"][0]
# Plans read at a time: memory stays bounded for a whole city's, and the patients and
# the readings of one batch are each one query. Each readings query scans the quarter's
# readings, so batches are large: a centre's 20,000 patients take four.
_BATCH: Final = 5000
# More plans than a city has: the search's keys are read at once.
_MOST_PLANS: Final = 10_000_000
_QUARTER: Final = re.compile(r"(\d{4})-Q([1-4])")
_SEE_ROLES: Final = frozenset({Role.DOCTOR, Role.NURSE, Role.CENTRE_ADMIN})


class ControlRatesRefused(PermissionError):
    """The person may not see these figures; ``message`` is a msgid."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True, order=True)
class Quarter:
    year: int
    number: int  # 1 to 4

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``2026-Q4``; raises ValueError."""
        found = _QUARTER.fullmatch(text.strip())
        if found is None:
            raise ValueError(f"{text!r} is not a quarter such as 2026-Q4")
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_month(self) -> date:
        return date(self.year, 3 * self.number, 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(
            self.year, self.number - 1)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(
            self.year, self.number + 1)

    def start(self, zone: ZoneInfo) -> datetime:
        """Its first moment in the city's time zone."""
        return datetime.combine(self.first_day, datetime.min.time(), zone)

    def end(self, zone: ZoneInfo) -> datetime:
        """The first moment of the next quarter: the quarter is [start, end)."""
        return self.next().start(zone)


@dataclass(frozen=True, slots=True)
class Counts:
    followed: int = 0  # the denominator: every patient followed
    at_target: int = 0
    above_target: int = 0  # the last reading at or above the target
    no_reading: int = 0  # none in the quarter

    def share(self, part: int) -> float | None:
        """``part`` of those followed, 0 to 1; None when no one is followed."""
        return part / self.followed if self.followed else None

    @property
    def control_rate(self) -> float | None:
        return self.share(self.at_target)


@dataclass(frozen=True, slots=True)
class DistrictCounts:
    district: str | None  # None: the patients' address says no district
    counts: Counts


@dataclass(frozen=True, slots=True)
class ControlRates:
    centre_id: str | None  # None: every centre of the city
    quarter: Quarter
    districts: list[DistrictCounts]  # by name, the unknown district last
    total: Counts


def may_see(staff: Principal, centre_id: str | None) -> bool:
    """Whether ``staff`` may see the figures of ``centre_id`` (None: every centre)."""
    account = staff.account
    if account is None:
        return False
    if account.role is Role.CITY_ADMIN:
        return True
    return account.role in _SEE_ROLES and centre_id is not None and (
        centre_id in account.organizations)


async def control_rates(store: Store, staff: Principal, centre_id: str | None,
                        quarter: Quarter, *, zone: ZoneInfo, language: str,
                        city_language: str, defaults: Thresholds = CITY_DEFAULTS
                        ) -> ControlRates:
    """The control rates of the patients ``centre_id`` follows (None: every centre's) in
    ``quarter`` (in the city's ``zone``), by district named in ``language`` (a
    district written without its language is in ``city_language``). Raises
    ControlRatesRefused."""
    if not may_see(staff, centre_id):
        raise ControlRatesRefused(N_("These figures are for the health centre's doctors, "
                                     "nurses and administrators, and the city's "
                                     "administrators"))
    start, end = quarter.start(zone), quarter.end(zone)
    params = [*PLAN_SEARCH, ("category", f"{ICD_10}|{HYPERTENSION}")]
    if centre_id is not None:
        params.append(("performer", f"Organization/{centre_id}"))
    counted: dict[str | None, Counter[str]] = {}
    seen: set[str] = set()
    async with store.reading(EVERYTHING) as tx:
        plans = await narrowed(tx, compile_search("CarePlan", params, strict=True))
        keys = await tx.find(plans.query, limit=_MOST_PLANS)
        for first in range(0, len(keys), _BATCH):
            batch = await _followed(tx, keys[first:first + _BATCH], end, defaults,
                                    language, city_language)
            last = await _last_readings(tx, sorted({f.patient_id for f in batch}), start,
                                        end)
            readings = {r.patient_id: r.reading for r in await _readings(tx, last)}
            for one in batch:
                if one.patient_id in seen:
                    continue  # a second active plan: the patient counts once
                seen.add(one.patient_id)
                tally = counted.setdefault(one.district, Counter())
                tally["followed"] += 1
                tally[_status(readings.get(one.patient_id), one.thresholds)] += 1
    await _record(store, staff, params, quarter)
    rows = [DistrictCounts(d, _counts(c)) for d, c in sorted(
        counted.items(), key=lambda item: (item[0] is None, item[0] or ""))]
    total = sum((Counter(c) for c in counted.values()), Counter[str]())
    return ControlRates(centre_id, quarter, rows, _counts(total))


def _status(reading: Reading | None, thresholds: Thresholds) -> str:
    if reading is None or reading.systolic is None or reading.diastolic is None:
        return "no_reading"
    if reading.systolic < thresholds.target_systolic and (
            reading.diastolic < thresholds.target_diastolic):
        return "at_target"
    return "above_target"


def _counts(tally: Counter[str]) -> Counts:
    return Counts(tally["followed"], tally["at_target"], tally["above_target"],
                  tally["no_reading"])


@dataclass(frozen=True, slots=True)
class _Followed:
    patient_id: str
    thresholds: Thresholds
    district: str | None


async def _followed(tx: Transaction, plans: Sequence[int], end: datetime,
                    defaults: Thresholds, language: str, city_language: str
                    ) -> list[_Followed]:
    """The patients of the plans of keys ``plans`` that started before ``end``, with the
    plan's targets and the district of the patient's first address."""
    followed = []
    for stored in await tx.read_many(list(plans)):
        care_plan = stored.resource()
        started = moment_of((care_plan.get("period") or {}).get("start"))
        # A plan that does not say when it started is followed now.
        if isinstance(started, datetime) and started >= end:
            continue
        patient_id = reference_id(care_plan.get("subject"), "Patient")
        if patient_id:
            followed.append((patient_id, of_plan(care_plan, defaults)))
    patients = {p["id"]: p for p in await find(tx, "Patient", [
        ("_id", ",".join(sorted({patient for patient, _ in followed})))],
        limit=len(followed) or 1)} if followed else {}
    return [_Followed(patient_id, thresholds,
                      _district(patients[patient_id], language, city_language)
                      if patient_id in patients else None)
            for patient_id, thresholds in followed]


def _district(patient: dict[str, Any], language: str, city_language: str) -> str | None:
    """The district of the patient's first address, in ``language``, if it says."""
    first = (patient.get("address") or [None])[0]
    address = first if isinstance(first, dict) else {}
    own = str(patient.get("language") or city_language)
    return in_language(texts_of(address, "district", own), language, own).strip() or None


async def _last_readings(tx: Transaction, patient_ids: Sequence[str], start: datetime,
                         end: datetime) -> list[int]:
    """The keys of the last blood-pressure reading each patient took in [start, end),
    from any source, in one query."""
    return await latest_per_reference(tx, "Observation", [
        ("code", f"{LOINC}|{BLOOD_PRESSURE}"),
        ("date", f"ge{start.isoformat()}"), ("date", f"lt{end.isoformat()}"),
        ("status:not", "entered-in-error,cancelled")], reference="subject",
        target_type="Patient", targets=patient_ids, date="date")


@dataclass(frozen=True, slots=True)
class _Last:
    patient_id: str
    reading: Reading


async def _readings(tx: Transaction, keys: Sequence[int]) -> list[_Last]:
    """The readings of the Observations of ``keys``, with whose they are."""
    found = []
    for stored in await tx.read_many(keys):
        observation = stored.resource()
        patient_id = reference_id(observation.get("subject"), "Patient")
        reading = reading_of(observation)
        if patient_id and reading is not None:
            found.append(_Last(patient_id, reading))
    return found


async def _record(store: Store, staff: Principal, params: list[tuple[str, str]],
                  quarter: Quarter) -> None:
    """The AuditEvent of a showing: who asked, the plans searched and the quarter."""
    event: dict[str, Any] = staff.audit_event(Access("GET", "CarePlan", urlencode(params)))
    for entity in event.get("entity") or ():
        if "query" in entity:
            entity["detail"] = [{"type": "quarter", "valueString": str(quarter)}]
    await store.append(event)
