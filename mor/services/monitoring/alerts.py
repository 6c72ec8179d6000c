"""Alerts as FHIR resources, and the rules' decisions applied to them.

An alert is a ``Task`` (code monitoring-alert, for the patient, ``basedOn`` the plan,
owned by the health centre that follows the plan, ``priority`` urgent or routine,
``reasonCode`` the rule, ``focus`` the reading to look at first, each reading it holds as
an ``input``) and a ``Flag`` on the patient's record while it is open, so any FHIR client
showing the record sees it. The nurse's worklist is the search for the centre's open alert
Tasks.

Evaluating a plan reads its recent readings and alerts and writes the decisions in one
transaction, as mor itself, under a lock on the plan: two readings arriving at once, or
the watcher and a page evaluating the same plan, never raise the same alert twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from mor.fhir.errors import NotFound
from mor.fhir.store import Store, Transaction
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.codes import (
    ALERT_FLAG,
    ALERT_TASK,
    LOINC,
    MONITORING,
    READING_KINDS,
    RULES,
    URGENT_RULES,
    coding,
)
from mor.services.monitoring.plans import PLAN_SEARCH, Plan, plan_of
from mor.services.monitoring.readings import Reading, reading_of
from mor.services.monitoring.rules import (
    LOOKBACK,
    RECENT,
    Alert,
    Attach,
    Decision,
    Raise,
    evaluate,
)
from mor.services.monitoring.thresholds import CITY_DEFAULTS, Thresholds
from mor.services.scheduling.lookup import find, reference_id

ALERT_CODE: Final = f"{MONITORING}|{ALERT_TASK}"
ALERT_ID_SYSTEM: Final = f"{MONITORING}/alert"
OPEN_STATUSES: Final = ("requested", "received", "accepted", "in-progress", "on-hold")
_READING_INPUT: Final = "reading"
_SINCE_INPUT: Final = "gap-since"
_FLAG_INPUT: Final = "flag"
_MOST_ALERTS: Final = 500
_MOST_READINGS: Final = 2000


def alert_of(task: dict[str, Any]) -> Alert:
    return Alert(task["id"], rule_of(task) or "", task.get("status") in OPEN_STATUSES,
                 frozenset(_input_references(task, _READING_INPUT, "Observation")),
                 _input_text(task, _SINCE_INPUT))


def rule_of(task: dict[str, Any]) -> str | None:
    for concept in [task.get("reasonCode") or {}]:
        for c in concept.get("coding") or ():
            if c.get("system") == MONITORING and c.get("code") in RULES:
                return str(c["code"])
    return None


def reading_ids(task: dict[str, Any]) -> list[str]:
    return _input_references(task, _READING_INPUT, "Observation")


def flag_id(task: dict[str, Any]) -> str | None:
    found = _input_references(task, _FLAG_INPUT, "Flag")
    return found[0] if found else None


def _input_references(task: dict[str, Any], kind: str, resource_type: str) -> list[str]:
    return [found for i in task.get("input") or () if _input_kind(i) == kind
            if (found := reference_id(i.get("valueReference"), resource_type))]


def _input_text(task: dict[str, Any], kind: str) -> str | None:
    return next((str(i["valueString"]) for i in task.get("input") or ()
                 if _input_kind(i) == kind and "valueString" in i), None)


def _input_kind(item: dict[str, Any]) -> str | None:
    return next((c.get("code") for c in (item.get("type") or {}).get("coding") or ()
                 if c.get("system") == MONITORING), None)


def _reading_input(observation_id: str) -> dict[str, Any]:
    return {"type": {"coding": [coding(MONITORING, _READING_INPUT, "Home reading")]},
            "valueReference": {"reference": f"Observation/{observation_id}"}}


@dataclass(frozen=True, slots=True)
class Evaluated:
    plan: Plan
    decisions: list[Decision]


async def plan_readings(tx: Transaction, patient_id: str, kinds: Sequence[str],
                        since: datetime) -> list[Reading]:
    """The patient's readings of ``kinds`` taken since ``since``, from any source."""
    codes = ",".join(f"{LOINC}|{READING_KINDS[k].loinc}" for k in kinds)
    found = await find(tx, "Observation", [
        ("patient", f"Patient/{patient_id}"), ("code", codes),
        ("date", f"ge{since.isoformat(timespec='seconds')}"),
        ("status:not", "entered-in-error,cancelled")], limit=_MOST_READINGS)
    return [r for o in found if (r := reading_of(o)) is not None]


async def evaluate_plan(store: Store, plan_id: str, *, now: datetime,
                        defaults: Thresholds = CITY_DEFAULTS) -> Evaluated | None:
    """Run the rules on one plan and write what they decide; None for a plan that is no
    longer active (or not there)."""
    async with store.writing(EVERYTHING) as tx:
        await tx.lock_criteria("Task", f"based-on=CarePlan/{plan_id}")
        try:
            care_plan = (await tx.read("CarePlan", plan_id)).resource()
        except NotFound:
            return None
        if care_plan.get("status") != "active":
            return None
        plan = plan_of(care_plan, defaults)
        readings = await plan_readings(tx, plan.patient_id, plan.kinds, now - LOOKBACK)
        latest = await _latest(tx, plan, readings, now)
        tasks = await _alert_tasks(tx, plan.id, now)
        alerts = [alert_of(t) for t in tasks]
        started = datetime.fromisoformat(plan.started) if plan.started else now
        decisions = evaluate(readings, alerts, plan.thresholds, now=now, kinds=plan.kinds,
                             plan_started=started, latest=latest)
        by_id = {r.id: r for r in readings}
        tasks_by_id = {t["id"]: t for t in tasks}
        for decision in decisions:
            await _apply(tx, plan, decision, by_id, tasks_by_id, now)
    return Evaluated(plan, decisions)


async def evaluate_patient(store: Store, patient_id: str, *, now: datetime,
                           defaults: Thresholds = CITY_DEFAULTS) -> Evaluated | None:
    """Run the rules on the patient's active plan, if they have one."""
    async with store.reading(EVERYTHING) as tx:
        plans = await find(tx, "CarePlan", [*PLAN_SEARCH, ("patient", f"Patient/{patient_id}")],
                           limit=1)
    if not plans:
        return None
    return await evaluate_plan(store, plans[0]["id"], now=now, defaults=defaults)


async def _latest(tx: Transaction, plan: Plan, recent: Sequence[Reading], now: datetime
                  ) -> dict[str, Reading | None]:
    latest: dict[str, Reading | None] = {}
    for kind in plan.kinds:
        mine = [r for r in recent if r.kind == kind]
        if mine:
            latest[kind] = max(mine, key=lambda r: r.taken)
            continue
        # None in the rules' window: the last one ever, however old.
        found = await find(tx, "Observation", [
            ("patient", f"Patient/{plan.patient_id}"),
            ("code", f"{LOINC}|{READING_KINDS[kind].loinc}"),
            ("status:not", "entered-in-error,cancelled"), ("_sort", "-date")], limit=1)
        latest[kind] = reading_of(found[0]) if found else None
    return latest


async def _alert_tasks(tx: Transaction, plan_id: str, now: datetime) -> list[dict[str, Any]]:
    """The plan's open alerts, and those raised recently enough to hold readings the rules
    still look at."""
    base = [("code", ALERT_CODE), ("based-on", f"CarePlan/{plan_id}")]
    open_ones = await find(tx, "Task", [*base, ("status", ",".join(OPEN_STATUSES))],
                           limit=_MOST_ALERTS)
    since = (now - LOOKBACK - RECENT).isoformat()
    recent = await find(tx, "Task", [*base, ("authored-on", f"ge{since}")],
                        limit=_MOST_ALERTS)
    by_id = {t["id"]: t for t in [*open_ones, *recent]}
    return list(by_id.values())


def _description(rule: str, focus: Reading | None) -> str:
    text = RULES[rule]
    if focus is None:
        return text
    v = focus.values
    value = (f"{v['systolic']:g}/{v['diastolic']:g} mmHg" if focus.kind == "bp"
             else f"{v['glucose']:g} mg/dL" if focus.kind == "glucose" else f"{v['weight']:g} kg")
    return f"{text}: {value}, {focus.taken.isoformat(timespec='minutes')}"


async def _apply(tx: Transaction, plan: Plan, decision: Decision, readings: dict[
        str | None, Reading], tasks: dict[str, dict[str, Any]], now: datetime) -> None:
    stamp = now.isoformat(timespec="seconds")
    if isinstance(decision, Raise):
        await _raise(tx, plan, decision, readings, stamp)
        return
    task = tasks[decision.alert_id]
    changed = dict(task)
    changed["lastModified"] = stamp
    if isinstance(decision, Attach):
        changed["input"] = [*(task.get("input") or ()),
                            *(_reading_input(r) for r in decision.readings)]
        current_focus = readings.get(reference_id(task.get("focus"), "Observation"))
        new_focus = readings.get(decision.focus)
        if new_focus is not None and (current_focus is None or _worse(
                decision.rule, new_focus, current_focus)):
            changed["focus"] = {"reference": f"Observation/{new_focus.id}"}
            changed["description"] = _description(decision.rule, new_focus)
    else:
        changed["status"] = "completed"
        changed["businessStatus"] = {"coding": [coding(MONITORING, "reading-arrived",
                                                        "A reading arrived")]}
        changed["output"] = [{"type": {"coding": [coding(MONITORING, _READING_INPUT)]},
                              "valueReference": {"reference":
                                                 f"Observation/{decision.reading}"}}]
        await close_flag(tx, task, stamp)
    await tx.update("Task", task["id"], changed)


def _worse(rule: str, new: Reading, current: Reading) -> bool:
    if rule == "bp-low":
        return new.values["systolic"] < current.values["systolic"]
    if rule.startswith("bp") and not rule.endswith("worsening"):
        return (new.values["systolic"], new.values["diastolic"]) > (
            current.values["systolic"], current.values["diastolic"])
    if rule == "glucose-urgent":
        return abs(new.values["glucose"] - 120) > abs(current.values["glucose"] - 120)
    return new.taken > current.taken


async def close_flag(tx: Transaction, task: dict[str, Any], stamp: str) -> None:
    """End the Flag that showed an alert on the record, when the alert closes."""
    found = flag_id(task)
    if found is None:
        return
    try:
        flag = (await tx.read("Flag", found)).resource()
    except NotFound:
        return
    if flag.get("status") != "active":
        return
    changed = dict(flag)
    changed["status"] = "inactive"
    changed["period"] = {**(flag.get("period") or {}), "end": stamp}
    await tx.update("Flag", found, changed)


async def _raise(tx: Transaction, plan: Plan, decision: Raise,
                 readings: dict[str | None, Reading], stamp: str) -> None:
    key = decision.since if decision.since else (decision.readings[0] if decision.readings
                                                 else stamp)
    identifier = f"{plan.id}/{decision.rule}/{key}"
    if await find(tx, "Task", [("identifier", f"{ALERT_ID_SYSTEM}|{identifier}")], limit=1):
        return  # raised before (the rules saw only recent alerts)
    patient = {"reference": f"Patient/{plan.patient_id}"}
    centre = {"reference": f"Organization/{plan.centre_id}"} if plan.centre_id else None
    focus = readings.get(decision.focus)
    reason = {"coding": [coding(MONITORING, decision.rule, RULES[decision.rule])]}
    flag: dict[str, Any] = {
        "resourceType": "Flag", "status": "active",
        "category": [{"coding": [coding(
            "http://terminology.hl7.org/CodeSystem/flag-category", "clinical", "Clinical")]}],
        "code": {"coding": [coding(MONITORING, ALERT_FLAG, "Home monitoring alert"),
                            *reason["coding"]], "text": _description(decision.rule, focus)},
        "subject": patient, "period": {"start": stamp}}
    if centre:
        flag["author"] = centre
    stored_flag = await tx.create(flag)
    task: dict[str, Any] = {
        "resourceType": "Task",
        # The rule again, as a tag: the worklist ranks alerts by it from the index.
        "meta": {"tag": [coding(MONITORING, decision.rule, RULES[decision.rule])]},
        "status": "requested", "intent": "order",
        "identifier": [{"system": ALERT_ID_SYSTEM, "value": identifier}],
        "priority": "urgent" if decision.rule in URGENT_RULES else "routine",
        "code": {"coding": [coding(MONITORING, ALERT_TASK, "Home monitoring alert")]},
        "reasonCode": reason, "description": _description(decision.rule, focus),
        "for": patient, "basedOn": [{"reference": f"CarePlan/{plan.id}"}],
        "focus": {"reference": f"Observation/{focus.id}"} if focus else
        {"reference": f"CarePlan/{plan.id}"},
        "authoredOn": stamp, "lastModified": stamp,
        "input": [*(_reading_input(r) for r in decision.readings),
                  {"type": {"coding": [coding(MONITORING, _FLAG_INPUT, "Flag on the record")]},
                   "valueReference": {"reference": f"Flag/{stored_flag.id}"}}]}
    if decision.since:
        task["input"].append({"type": {"coding": [coding(MONITORING, _SINCE_INPUT,
                                                          "Gap since")]},
                              "valueString": decision.since})
    if centre:
        task["owner"] = centre
    await tx.create(task)
