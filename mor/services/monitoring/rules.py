"""The rules that watch home readings, as pure functions: from a plan's readings, its
alerts so far and the time, what to raise, add to or close. Nothing here reads or writes;
:mod:`mor.services.monitoring.alerts` applies the decisions to the store.

What makes the alerts fire exactly once, whatever order the readings arrive in and however
often one is sent:

- each rule has at most one open alert per plan; a reading that would raise another is
  added to the open one instead;
- a reading counts towards at most one alert of each rule: once it is in an alert, open
  or closed, it raises nothing again, so re-evaluating the same readings changes nothing;
- readings are ordered by when they were taken, never by when they arrived;
- a reading taken more than ``RECENT`` ago is history: it is charted, but raises nothing;
- "missing" alerts are keyed by the reading before the gap, so one gap raises one alert,
  and it closes by itself when a newer reading arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean
from typing import Final

from mor.services.monitoring.codes import RULE_RANK
from mor.services.monitoring.readings import Reading
from mor.services.monitoring.thresholds import Thresholds

RECENT: Final = timedelta(days=14)
# Readings the rules look at: enough for the two trend windows and some.
LOOKBACK: Final = timedelta(days=30)
NO_READING: Final = "plan"  # a "missing" alert's key when the plan never had a reading
WATCHED_GAPS: Final = ("bp", "glucose")  # weight is charted, not chased


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as the rules see it."""

    id: str
    rule: str
    open: bool
    readings: frozenset[str]  # the Observation ids it holds
    since: str | None = None  # "missing": the id of the reading before the gap


@dataclass(frozen=True, slots=True)
class Raise:
    rule: str
    readings: tuple[str, ...]  # oldest first
    focus: str | None  # the reading to show first: the worst, or the latest
    since: str | None = None


@dataclass(frozen=True, slots=True)
class Attach:
    alert_id: str
    rule: str
    readings: tuple[str, ...]
    focus: str | None


@dataclass(frozen=True, slots=True)
class Resolve:
    alert_id: str
    rule: str
    reading: str  # the reading that ended the gap


Decision = Raise | Attach | Resolve


def reading_rule(reading: Reading, t: Thresholds) -> str | None:
    """The most urgent rule one reading breaks on its own, if any."""
    v = reading.values
    if reading.kind == "bp":
        systolic, diastolic = v["systolic"], v["diastolic"]
        if systolic >= t.bp_urgent_systolic or diastolic >= t.bp_urgent_diastolic:
            return "bp-urgent"
        if systolic < t.bp_low_systolic:
            return "bp-low"
        if systolic >= t.bp_high_systolic or diastolic >= t.bp_high_diastolic:
            return "bp-high"
    elif reading.kind == "glucose":
        glucose = v["glucose"]
        if glucose < t.glucose_urgent_low or glucose >= t.glucose_urgent_high:
            return "glucose-urgent"
        if glucose < t.glucose_low or (
                reading.context == "fasting" and glucose > t.glucose_fasting_high) or (
                reading.context == "after-meal" and glucose > t.glucose_after_meal_high):
            return "glucose-out-of-range"
    return None


def at_target(reading: Reading, t: Thresholds) -> bool | None:
    """Whether a blood pressure reading is below the target (None: not one)."""
    if reading.kind != "bp":
        return None
    return v_below(reading, "systolic", t.target_systolic) and v_below(
        reading, "diastolic", t.target_diastolic)


def v_below(reading: Reading, name: str, limit: float) -> bool:
    return reading.values[name] < limit


def evaluate(readings: Iterable[Reading], alerts: Sequence[Alert], thresholds: Thresholds,
             *, now: datetime, kinds: Sequence[str], plan_started: datetime,
             latest: Mapping[str, Reading | None]) -> list[Decision]:
    """What to do about a plan's ``readings`` (those of the last ``LOOKBACK``, stored and
    with ids), given its ``alerts`` (all of them, open and closed) and the ``latest``
    reading of each kind ever (for the gaps)."""
    stored = sorted((r for r in readings if r.id), key=lambda r: (r.taken, r.id or ""))
    decisions: list[Decision] = []
    decisions += _single_readings(stored, alerts, thresholds, now)
    decisions += _worsening(stored, alerts, thresholds, now)
    decisions += _gaps(alerts, thresholds, now, kinds, plan_started, latest)
    return decisions


def _counted(alerts: Sequence[Alert], rule: str) -> set[str]:
    return {r for a in alerts if a.rule == rule for r in a.readings}


def _open(alerts: Sequence[Alert], rule: str) -> Alert | None:
    return next((a for a in alerts if a.rule == rule and a.open), None)


def _raise_or_attach(rule: str, found: list[Reading], alerts: Sequence[Alert],
                     focus: Reading | None) -> Decision:
    ids = tuple(r.id or "" for r in found)
    focus_id = focus.id if focus else None
    current = _open(alerts, rule)
    if current is not None:
        return Attach(current.id, rule, ids, focus_id)
    return Raise(rule, ids, focus_id)


def _single_readings(readings: Sequence[Reading], alerts: Sequence[Alert], t: Thresholds,
                     now: datetime) -> list[Decision]:
    by_rule: dict[str, list[Reading]] = {}
    for reading in readings:
        if now - reading.taken > RECENT:
            continue
        rule = reading_rule(reading, t)
        if rule is not None:
            by_rule.setdefault(rule, []).append(reading)
    decisions = []
    for rule in sorted(by_rule, key=RULE_RANK.__getitem__):
        counted = _counted(alerts, rule)
        fresh = [r for r in by_rule[rule] if r.id not in counted]
        if fresh:
            decisions.append(_raise_or_attach(rule, fresh, alerts, _worst(fresh, rule)))
    return decisions


def _worst(found: Sequence[Reading], rule: str) -> Reading:
    if rule == "bp-low":
        return min(found, key=lambda r: r.values["systolic"])
    if rule.startswith("bp"):
        return max(found, key=lambda r: (r.values["systolic"], r.values["diastolic"]))
    if rule == "glucose-urgent":
        # The farther from normal, at either end.
        return max(found, key=lambda r: abs(r.values["glucose"] - 120))
    return found[-1]


def _trend_value(reading: Reading) -> float | None:
    if reading.kind == "bp":
        return reading.values["systolic"]
    if reading.kind == "glucose" and reading.context == "fasting":
        return reading.values["glucose"]
    return None


def _worsening(readings: Sequence[Reading], alerts: Sequence[Alert], t: Thresholds,
               now: datetime) -> list[Decision]:
    decisions: list[Decision] = []
    for kind, rule, rise, target in (
            ("bp", "bp-worsening", t.worsening_systolic_rise, t.target_systolic),
            ("glucose", "glucose-worsening", t.worsening_glucose_rise,
             t.target_glucose_high)):
        series = [r for r in readings if r.kind == kind and _trend_value(r) is not None]
        if not series or now - series[-1].taken > RECENT:
            continue
        end = series[-1].taken
        window = timedelta(days=t.trend_days)
        counted = _counted(alerts, rule)
        recent = [r for r in series if end - window < r.taken <= end and r.id not in counted]
        before = [r for r in series if end - 2 * window < r.taken <= end - window]
        if len(recent) < t.trend_readings or len(before) < t.trend_readings:
            continue
        recent_mean = fmean(_trend_value(r) or 0 for r in recent)
        before_mean = fmean(_trend_value(r) or 0 for r in before)
        if recent_mean - before_mean >= rise and recent_mean >= target:
            decisions.append(_raise_or_attach(rule, recent, alerts, recent[-1]))
    return decisions


def _gaps(alerts: Sequence[Alert], t: Thresholds, now: datetime, kinds: Sequence[str],
          plan_started: datetime, latest: Mapping[str, Reading | None]) -> list[Decision]:
    decisions: list[Decision] = []
    for kind in WATCHED_GAPS:
        if kind not in kinds:
            continue
        rule = f"{kind}-missing"
        last = latest.get(kind)
        since = (last.id if last else None) or NO_READING
        for alert in alerts:
            if alert.rule == rule and alert.open and alert.since != since and last:
                decisions.append(Resolve(alert.id, rule, last.id or ""))
        gap_start = last.taken if last else plan_started
        if now - gap_start < timedelta(days=t.missing_days):
            continue
        if any(a.rule == rule and a.since == since for a in alerts):
            continue  # this gap has its alert already
        decisions.append(Raise(rule, (), last.id if last else None, since))
    return decisions
