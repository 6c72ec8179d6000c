"""The nurse's worklist: a health centre's open home-monitoring alerts, one row per
patient, most urgent first, each with the readings behind it.

It is FHIR searches, read as the nurse (the same access rules as the API, one audit
record naming everything shown): the centre's open alert ``Task``s, urgent ones first —
``Task?code={MONITORING}|monitoring-alert&owner=Organization/{centre}&status=requested,...``
— then the alerts of the rows shown again by ``_id`` with ``_include=Task:patient`` and
``_include=Task:focus``, and the shown patients' recent readings in one more search for
the trend charts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.permissions import Access
from mor.fhir.search.indexed import IndexedMatch
from mor.fhir.store import Store
from mor.messages import N_, Refused
from mor.services import fhir_calls
from mor.services.monitoring.alerts import ALERT_CODE, OPEN_STATUSES, reading_ids, rule_of
from mor.services.monitoring.codes import (
    LOINC,
    MONITORING,
    READING_KINDS,
    RULE_RANK,
    URGENT_RULES,
    kind_of_rule,
)
from mor.services.monitoring.plans import PLAN_SEARCH, Plan, plan_of
from mor.services.monitoring.readings import Reading, reading_of
from mor.services.person_names import display_name
from mor.services.records.elements import moment_of
from mor.services.scheduling.lookup import reference_id

ESCALATED: Final = "escalated"
TREND_DAYS: Final = 14
HISTORY_DAYS: Final = 30
# The alerts read for one worklist, urgent ones first: more open at one centre is a
# crisis of its own, and the page says how many patients it leaves out.
_MOST_ALERTS: Final = 1000
_MOST_ROWS: Final = 50
_INCLUDES: Final = [("_include", "Task:patient"), ("_include", "Task:focus")]


class WorklistRefused(Refused):
    """The worklist, or a patient's page of it, is not for this person."""


@dataclass(frozen=True, slots=True)
class AlertView:
    task_id: str
    version: str
    rule: str
    urgent: bool
    status: str
    escalated: bool
    description: str
    raised: datetime | None
    focus: Reading | None
    readings: int  # how many readings it holds
    closed_because: str | None = None  # businessStatus code, once closed


@dataclass(frozen=True, slots=True)
class Row:
    patient_id: str
    patient_name: str
    alerts: tuple[AlertView, ...]  # most urgent first
    trend: tuple[Reading, ...]  # the last TREND_DAYS of the most urgent alert's kind

    @property
    def first(self) -> AlertView:
        return self.alerts[0]

    @property
    def urgent(self) -> bool:
        return any(a.urgent for a in self.alerts)


@dataclass(frozen=True, slots=True)
class Worklist:
    centre_id: str
    rows: tuple[Row, ...]
    more: int  # patients with alerts not shown (beyond the first rows)


def check_clinician_of(caller: Principal, centre_id: str) -> None:
    """The caller is a nurse or doctor of the centre; else WorklistRefused."""
    account = caller.account
    if account is None or account.role not in (Role.NURSE, Role.DOCTOR):
        raise WorklistRefused(N_("Home readings are followed by the health centre's nurses "
                                 "and doctors"))
    if centre_id not in account.organizations:
        raise WorklistRefused(N_("You follow the home readings of your own health centre "
                                 "only"))


def alert_view(task: dict[str, Any], focus: Reading | None) -> AlertView:
    rule = rule_of(task) or ""
    business = next((c.get("code") for c in (task.get("businessStatus") or {}).get(
        "coding") or ()), None)
    raised = moment_of(task.get("authoredOn"))
    return AlertView(
        task["id"], str((task.get("meta") or {}).get("versionId", "1")), rule,
        rule in URGENT_RULES, str(task.get("status")),
        business == ESCALATED, str(task.get("description", "")),
        raised if isinstance(raised, datetime) else None, focus, len(reading_ids(task)),
        business if task.get("status") not in OPEN_STATUSES else None)


def _by_urgency(alert: AlertView) -> tuple[int, float]:
    raised = alert.raised.timestamp() if alert.raised else 0.0
    return RULE_RANK.get(alert.rule, len(RULE_RANK)), raised


async def worklist(store: Store, caller: Principal, centre_id: str, *, now: datetime,
                   most: int = _MOST_ROWS) -> Worklist:
    """The centre's patients with open alerts, most urgent first: the patient with a
    blood pressure in crisis before the one with a reading missing, and among equals
    the one waiting longest; for a doctor, those escalated to the doctors before all."""
    check_clinician_of(caller, centre_id)
    base = [("code", ALERT_CODE), ("owner", f"Organization/{centre_id}"),
            ("status", ",".join(OPEN_STATUSES))]
    access = Access("GET", f"Organization/{centre_id}/$monitoring-worklist", "")
    async with fhir_calls.reading(store, caller, access) as reads:
        # The first 1,000 alerts, urgent ones first ("urgent" sorts after "routine") and
        # the longest waiting within each, ranked from the index: reading them to show
        # 50 rows was most of the worklist's time. Only the rows shown are the nurse's to
        # see, and named in the audit record: a patient's access page would otherwise say
        # the nurse looked at their record each time the worklist was opened, when it
        # showed only that others come after.
        open_alerts = await reads.indexed(
            "Task", [*base, ("_sort", "-priority,authored-on")], limit=_MOST_ALERTS,
            tokens=("_tag", "priority", "business-status"), references=("patient",),
            dates=("authored-on",))
        ranked = _ranked_by_patient(open_alerts)
        # A doctor sees first what nurses escalated to the doctors.
        doctor = caller.account is not None and caller.account.role is Role.DOCTOR
        ordered = sorted(ranked, key=lambda p: (_patient_rank(ranked[p], doctor), p))
        shown = ordered[:most]
        # The alerts shown, read, with the patients' names and the readings that raised
        # them.
        details = await _shown_details(reads, [a.task_id for p in shown for a in ranked[p]])
        trends = await _trends(reads, shown, now)
    rows = []
    for patient in shown:
        # As read the second time; an alert closed in between is no longer shown.
        alerts = sorted((alert_view(t, details.reading_of(t))
                         for t in details.tasks.get(patient, ())
                         if t.get("status") in OPEN_STATUSES), key=_by_urgency)
        if not alerts:
            continue
        rows.append(Row(
            patient, display_name(details.resources.get(f"Patient/{patient}") or {}),
            tuple(alerts), tuple(r for r in trends.get(patient, ())
                                 if r.kind == kind_of_rule(alerts[0].rule))))
    return Worklist(centre_id, tuple(rows), len(ordered) - len(shown))


@dataclass(frozen=True, slots=True)
class _Ranked:
    """An open alert as the index has it: enough to place its patient on the list."""

    task_id: str
    urgency: tuple[int, float]  # as _by_urgency
    escalated: bool


def _ranked_by_patient(matches: Iterable[IndexedMatch]) -> dict[str, list[_Ranked]]:
    grouped: dict[str, list[_Ranked]] = {}
    for match in matches:
        patients = match.references.get("patient") or ()
        if not patients:
            continue
        ranks = [RULE_RANK[r] for r in match.codes("_tag", MONITORING) if r in RULE_RANK]
        # Alerts raised before their rule was tagged rank first among their priority.
        rank = (min(ranks) if ranks else 0 if "urgent" in match.codes("priority")
                else len(URGENT_RULES))
        raised = min(match.dates.get("authored-on") or [0]) / 1_000_000
        escalated = ESCALATED in match.codes("business-status", MONITORING)
        grouped.setdefault(patients[0].removeprefix("Patient/"), []).append(
            _Ranked(match.id, (rank, raised), escalated))
    return grouped


def _patient_rank(alerts: list[_Ranked], doctor: bool) -> tuple[bool, tuple[int, float]]:
    return (doctor and not any(a.escalated for a in alerts),
            min(a.urgency for a in alerts))


@dataclass(frozen=True, slots=True)
class _Details:
    tasks: dict[str, list[dict[str, Any]]]  # by patient id
    resources: dict[str, dict[str, Any]]  # by Type/id

    def reading_of(self, task: dict[str, Any]) -> Reading | None:
        focus = self.resources.get(str((task.get("focus") or {}).get("reference")))
        if focus is None or focus.get("resourceType") != "Observation":
            return None
        return reading_of(focus)


async def _shown_details(reads: fhir_calls.Reads, task_ids: Sequence[str]) -> _Details:
    """These alerts, their patients and the readings that raised them: one search."""
    if not task_ids:
        return _Details({}, {})
    found = await reads.search("Task", [
        ("_id", ",".join(task_ids)), ("_count", str(len(task_ids))), *_INCLUDES])
    return _Details(_by_patient(found.matches),
                    {f"{r['resourceType']}/{r['id']}": r for r in found.included})


def _by_patient(tasks: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        patient = reference_id(task.get("for"), "Patient")
        if patient is not None:
            grouped.setdefault(patient, []).append(task)
    return grouped


async def _trends(reads: fhir_calls.Reads, patients: Sequence[str], now: datetime
                  ) -> dict[str, list[Reading]]:
    if not patients:
        return {}
    codes = ",".join(f"{LOINC}|{READING_KINDS[k].loinc}" for k in ("bp", "glucose"))
    since = (now - timedelta(days=TREND_DAYS)).isoformat(timespec="seconds")
    found = await reads.search("Observation", [
        ("patient", ",".join(f"Patient/{p}" for p in patients)), ("code", codes),
        ("date", f"ge{since}"), ("_sort", "date"),
        ("_count", str(len(patients) * TREND_DAYS * 4))])
    return _per_patient(found.matches)


def _per_patient(observations: Iterable[dict[str, Any]]) -> dict[str, list[Reading]]:
    by_patient: dict[str, list[Reading]] = {}
    for observation in observations:
        patient = reference_id(observation.get("subject"), "Patient")
        reading = reading_of(observation)
        if patient and reading:
            by_patient.setdefault(patient, []).append(reading)
    for readings in by_patient.values():
        readings.sort(key=lambda r: r.taken)
    return by_patient


@dataclass(frozen=True, slots=True)
class PatientAlerts:
    """One patient's page on the worklist: their plan, open and recent alerts, and the
    last HISTORY_DAYS of readings for the charts."""

    patient_id: str
    patient_name: str
    plan: Plan | None
    open: tuple[AlertView, ...]
    closed: tuple[AlertView, ...]  # the last few, newest first
    readings: tuple[Reading, ...]  # oldest first


async def patient_alerts(store: Store, caller: Principal, centre_id: str, patient_id: str,
                         *, now: datetime) -> PatientAlerts:
    check_clinician_of(caller, centre_id)
    access = Access("GET", f"Patient/{patient_id}/$monitoring", "")
    async with fhir_calls.reading(store, caller, access) as reads:
        patient = await reads.read(f"Patient/{patient_id}")
        plans = await reads.search("CarePlan", [
            *PLAN_SEARCH, ("patient", f"Patient/{patient_id}"), ("_count", "1")])
        tasks = await reads.search("Task", [
            ("code", ALERT_CODE), ("patient", f"Patient/{patient_id}"),
            ("_sort", "-authored-on"), ("_count", "40"), ("_include", "Task:focus")])
        since = (now - timedelta(days=HISTORY_DAYS)).isoformat(timespec="seconds")
        codes = ",".join(f"{LOINC}|{k.loinc}" for k in READING_KINDS.values())
        observations = await reads.search("Observation", [
            ("patient", f"Patient/{patient_id}"), ("code", codes), ("date", f"ge{since}"),
            ("_sort", "date"), ("_count", "1000")])
    focus = {f"Observation/{o['id']}": o for o in tasks.included
             if o.get("resourceType") == "Observation"}
    views = []
    for task in tasks.matches:
        found = focus.get(str((task.get("focus") or {}).get("reference")))
        views.append(alert_view(task, reading_of(found) if found else None))
    open_ones = tuple(sorted((a for a in views if a.status in OPEN_STATUSES),
                             key=_by_urgency))
    closed = tuple(a for a in views if a.status not in OPEN_STATUSES)[:10]
    readings = tuple(_per_patient(observations.matches).get(patient_id, ()))
    return PatientAlerts(patient_id, display_name(patient),
                         plan_of(plans.matches[0]) if plans.matches else None, open_ones,
                         closed, readings)
