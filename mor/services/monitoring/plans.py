"""A patient's monitoring plan: one active ``CarePlan`` (category home-monitoring) for what
it follows (ICD-10 I10 hypertension, E11 type 2 diabetes, as further categories), with an
activity per kind of reading the patient takes at home and one for the health centre that
reviews them (performer: the centre's Organization, which the worklist searches by), a
``Goal`` per target (blood pressure below 140/90, fasting blood sugar 80-130 mg/dL) and the
plan's own alert thresholds where they differ from the city's.

A patient enrols themselves, or a nurse or doctor of their health centre enrols them;
either way the plan is written as that person, in one transaction with its goals.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from mor.auth.policy import Principal
from mor.auth.roles import CLINICAL_ROLES, Role
from mor.fhir.errors import FhirError
from mor.fhir.interactions import dispatch
from mor.fhir.requests import FhirRequest
from mor.fhir.store import Store
from mor.messages import N_, Refused
from mor.services import fhir_calls
from mor.services.monitoring.codes import (
    DIASTOLIC,
    GLUCOSE,
    ICD_10,
    LOINC,
    MG_DL,
    MM_HG,
    MONITORING,
    PLAN_CATEGORY,
    PROGRAMMES,
    READING_KINDS,
    SYSTOLIC,
    THRESHOLD_URL,
    coding,
    quantity,
)
from mor.services.monitoring.thresholds import CITY_DEFAULTS, Thresholds, extensions, of_plan
from mor.services.scheduling.centres import home_centre
from mor.services.scheduling.lookup import reference_id

PLAN_SEARCH: Final = [("category", f"{MONITORING}|{PLAN_CATEGORY}"), ("status", "active")]
_REVIEW: Final = "review-readings"
_DAILY: Final = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}


class PlanRefused(Refused):
    """What cannot be done with a plan."""


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    version: str
    patient_id: str
    centre_id: str | None  # whose nurses review the readings
    programmes: tuple[str, ...]  # hypertension, diabetes
    kinds: tuple[str, ...]  # the readings it asks for: bp, glucose, weight
    thresholds: Thresholds
    started: str  # FHIR dateTime
    goal_ids: tuple[str, ...] = ()


def plan_of(care_plan: dict[str, Any], defaults: Thresholds = CITY_DEFAULTS) -> Plan:
    codes = {c.get("code") for concept in care_plan.get("category") or ()
             for c in concept.get("coding") or () if c.get("system") == ICD_10}
    programmes = tuple(p for p, (icd, _, _) in PROGRAMMES.items() if icd in codes)
    kinds: list[str] = []
    centre = None
    for activity in care_plan.get("activity") or ():
        detail = activity.get("detail") or {}
        code = next((c.get("code") for c in (detail.get("code") or {}).get("coding") or ()),
                    None)
        if code == _REVIEW:
            centre = next((found for p in detail.get("performer") or ()
                           if (found := reference_id(p, "Organization"))), None)
        kind = next((k for k in READING_KINDS.values() if k.loinc == code), None)
        if kind and kind.key not in kinds:
            kinds.append(kind.key)
    return Plan(care_plan["id"], str((care_plan.get("meta") or {}).get("versionId", "1")),
                reference_id(care_plan.get("subject"), "Patient") or "", centre, programmes,
                tuple(kinds), of_plan(care_plan, defaults),
                str((care_plan.get("period") or {}).get("start", "")),
                tuple(g for ref in care_plan.get("goal") or ()
                      if (g := reference_id(ref, "Goal"))))


async def active_plan(store: Store, caller: Principal, patient_id: str) -> Plan | None:
    """The patient's active plan, read as ``caller`` (audited), if they have one."""
    found = await fhir_calls.search(store, caller, "CarePlan", [
        *PLAN_SEARCH, ("patient", f"Patient/{patient_id}"), ("_sort", "-date"),
        ("_count", "1")])
    return plan_of(found[0]) if found else None


def may_enrol(caller: Principal, patient_id: str) -> bool:
    account = caller.account
    if account is None:
        return False
    if account.role is Role.PATIENT:
        return patient_id == account.fhir_user_id or patient_id in caller.proxies
    return account.role in CLINICAL_ROLES


async def enrol(store: Store, caller: Principal, patient_id: str,
                programmes: Sequence[str], *, now: datetime,
                thresholds: Thresholds = CITY_DEFAULTS) -> Plan:
    """Start the patient's plan for ``programmes``; raises PlanRefused."""
    chosen = [p for p in PROGRAMMES if p in programmes]
    if not chosen:
        raise PlanRefused(N_("Choose what the plan follows: high blood pressure, diabetes "
                             "or both"))
    if not may_enrol(caller, patient_id):
        raise PlanRefused(N_("Patients enrol themselves; nurses and doctors enrol their "
                             "health centre's patients"))
    if await active_plan(store, caller, patient_id) is not None:
        raise PlanRefused(N_("This patient already follows a home monitoring plan"))
    centre = await home_centre(store, patient_id)
    if centre is None:
        raise PlanRefused(N_("Book a first visit at a health centre: its nurses are the "
                             "ones who follow the readings"))
    plan_url = f"urn:uuid:{uuid.uuid4()}"
    goals = [(f"urn:uuid:{uuid.uuid4()}", goal)
             for goal in _goals(patient_id, chosen, thresholds, now)]
    care_plan = _care_plan(patient_id, centre.id, chosen, thresholds, now,
                           [url for url, _ in goals], author=_author(caller))
    entries = [{"fullUrl": plan_url, "resource": care_plan,
                "request": {"method": "POST", "url": "CarePlan"}}]
    entries += [{"fullUrl": url, "resource": goal, "request": {"method": "POST", "url": "Goal"}}
                for url, goal in goals]
    response = await dispatch(store, FhirRequest(
        method="POST", path="", caller=caller,
        body={"resourceType": "Bundle", "type": "transaction", "entry": entries}))
    location = str(((response.body or {}).get("entry") or [{}])[0].get(
        "response", {}).get("location", ""))
    # .../CarePlan/{id}/_history/1, after the server's base
    plan_id = location.rsplit("/_history/", 1)[0].rsplit("/", 1)[-1]
    return plan_of(await fhir_calls.read(store, caller, f"CarePlan/{plan_id}"))


async def change_thresholds(store: Store, caller: Principal, plan_id: str,
                            thresholds: Thresholds, *, version: str) -> Plan:
    """Set the plan's thresholds (and its goals' targets) as ``caller``, a clinician; on
    the version the page showed, else PlanRefused."""
    if caller.account is None or caller.account.role not in CLINICAL_ROLES:
        raise PlanRefused(N_("Only the health centre's nurses and doctors change a plan's "
                             "thresholds"))
    current = await fhir_calls.read(store, caller, f"CarePlan/{plan_id}")
    plan = plan_of(current)
    changed = dict(current)
    kept = [e for e in current.get("extension") or () if e.get("url") != THRESHOLD_URL]
    changed.pop("extension", None)
    if kept or extensions(thresholds):
        changed["extension"] = kept + extensions(thresholds)
    goals = {}
    for goal_id in plan.goal_ids:
        goal = await fhir_calls.read(store, caller, f"Goal/{goal_id}")
        goals[goal_id] = goal
    writes: list[tuple[str, dict[str, Any]]] = [(f"CarePlan/{plan_id}", changed)]
    for goal_id, goal in goals.items():
        kind = _goal_kind(goal)
        fresh = next((g for g in _goals(plan.patient_id, plan.programmes, thresholds,
                                        datetime.fromisoformat(plan.started))
                      if _goal_kind(g) == kind), None)
        if fresh is not None:
            writes.append((f"Goal/{goal_id}", {**goal,
                                                 "target": fresh["target"]}))
    try:
        await fhir_calls.transaction(store, caller, writes,
                                     if_match={f"CarePlan/{plan_id}": version})
    except FhirError as error:
        if error.status == 412:
            raise PlanRefused(N_("Someone else changed this plan at the same moment; open "
                                 "it again to see what they did")) from None
        raise
    return plan_of(await fhir_calls.read(store, caller, f"CarePlan/{plan_id}"))


def _author(caller: Principal) -> dict[str, str] | None:
    fhir_user = caller.account.fhir_user if caller.account else None
    return {"reference": fhir_user} if fhir_user else None


def _care_plan(patient_id: str, centre_id: str, programmes: Sequence[str],
               thresholds: Thresholds, now: datetime, goals: Sequence[str], *,
               author: dict[str, str] | None) -> dict[str, Any]:
    kinds: list[str] = []
    for programme in programmes:
        kinds += [k for k in PROGRAMMES[programme][2] if k not in kinds]
    patient = {"reference": f"Patient/{patient_id}"}
    activities = [{"detail": {
        "kind": "ServiceRequest", "status": "in-progress", "performer": [patient],
        "code": {"coding": [coding(LOINC, READING_KINDS[k].loinc,
                                   READING_KINDS[k].display)]},
        "scheduledTiming": _DAILY}} for k in kinds]
    activities.append({"detail": {
        "kind": "Task", "status": "in-progress",
        "code": {"coding": [coding(MONITORING, _REVIEW, "Review home readings")]},
        "performer": [{"reference": f"Organization/{centre_id}"}]}})
    plan: dict[str, Any] = {
        "resourceType": "CarePlan", "status": "active", "intent": "plan",
        "category": [{"coding": [coding(MONITORING, PLAN_CATEGORY, "Home monitoring")]}] + [
            {"coding": [coding(ICD_10, PROGRAMMES[p][0], PROGRAMMES[p][1])]}
            for p in programmes],
        "title": "Home monitoring", "subject": patient,
        "period": {"start": now.isoformat(timespec="seconds")},
        "created": now.isoformat(timespec="seconds"),
        "goal": [{"reference": url} for url in goals], "activity": activities}
    if author:
        plan["author"] = author
    if own := extensions(thresholds):
        plan["extension"] = own
    return plan


def _goals(patient_id: str, programmes: Sequence[str], thresholds: Thresholds,
           now: datetime) -> list[dict[str, Any]]:
    base = {"resourceType": "Goal", "lifecycleStatus": "active",
            "subject": {"reference": f"Patient/{patient_id}"},
            "startDate": now.date().isoformat()}
    goals = [{**base, "description": {"text": "Blood pressure below "
                                      f"{thresholds.target_systolic:g}/"
                                      f"{thresholds.target_diastolic:g} mmHg"},
              "target": [
                  {"measure": {"coding": [coding(LOINC, SYSTOLIC)]},
                   "detailQuantity": {**quantity(thresholds.target_systolic, MM_HG),
                                      "comparator": "<"}},
                  {"measure": {"coding": [coding(LOINC, DIASTOLIC)]},
                   "detailQuantity": {**quantity(thresholds.target_diastolic, MM_HG),
                                      "comparator": "<"}}]}]
    if "diabetes" in programmes:
        goals.append({**base, "description": {
            "text": f"Fasting blood sugar {thresholds.target_glucose_low:g}-"
                    f"{thresholds.target_glucose_high:g} mg/dL"},
            "target": [{"measure": {"coding": [coding(LOINC, GLUCOSE)]}, "detailRange": {
                "low": quantity(thresholds.target_glucose_low, MG_DL),
                "high": quantity(thresholds.target_glucose_high, MG_DL)}}]})
    return goals


def _goal_kind(goal: dict[str, Any]) -> str | None:
    for target in goal.get("target") or ():
        for c in (target.get("measure") or {}).get("coding") or ():
            if c.get("code") in (SYSTOLIC, DIASTOLIC):
                return "bp"
            if c.get("code") == GLUCOSE:
                return "glucose"
    return None
