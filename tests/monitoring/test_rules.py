"""The alert rules on sequences of readings: exactly the expected alerts fire, each once,
whatever order the readings arrive in and however often one is sent."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from mor.services.monitoring.readings import Reading
from mor.services.monitoring.rules import Alert, Attach, Raise, Resolve, evaluate, reading_rule
from mor.services.monitoring.thresholds import CITY_DEFAULTS, Thresholds

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
STARTED = NOW - timedelta(days=60)


def bp(days_ago: float, systolic: float, diastolic: float, name: str | None = None) -> Reading:
    taken = NOW - timedelta(days=days_ago)
    return Reading("bp", taken, {"systolic": systolic, "diastolic": diastolic},
                   key=name or f"bp-{days_ago}-{systolic}", id=name or f"bp-{days_ago}-{systolic}")


def sugar(days_ago: float, glucose: float, context: str = "fasting") -> Reading:
    name = f"glucose-{days_ago}-{glucose}"
    return Reading("glucose", NOW - timedelta(days=days_ago), {"glucose": glucose}, context,
                   key=name, id=name)


@dataclass
class Centre:
    """The store's side, in memory: what arrived, and the alerts raised so far."""

    kinds: tuple[str, ...] = ("bp", "glucose")
    thresholds: Thresholds = CITY_DEFAULTS
    stored: dict[str, Reading] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)  # rules, in the order they fired
    now: datetime = NOW
    started: datetime = STARTED

    def arrive(self, *readings: Reading) -> None:
        for reading in readings:
            self.stored.setdefault(reading.key, reading)  # a reading sent twice is kept once
        self.evaluate()

    def evaluate(self) -> None:
        latest = {kind: max((r for r in self.stored.values() if r.kind == kind),
                            key=lambda r: r.taken, default=None) for kind in self.kinds}
        decisions = evaluate(self.stored.values(), self.alerts, self.thresholds, now=self.now,
                             kinds=self.kinds, plan_started=self.started, latest=latest)
        for decision in decisions:
            if isinstance(decision, Raise):
                self.alerts.append(Alert(f"alert-{len(self.alerts)}", decision.rule, True,
                                         frozenset(decision.readings), decision.since))
                self.raised.append(decision.rule)
            elif isinstance(decision, Attach):
                self.alerts = [replace(a, readings=a.readings | set(decision.readings))
                               if a.id == decision.alert_id else a for a in self.alerts]
            elif isinstance(decision, Resolve):
                self.close(decision.alert_id)

    def close(self, alert_id: str) -> None:
        self.alerts = [replace(a, open=False) if a.id == alert_id else a for a in self.alerts]

    def acknowledge(self, rule: str) -> None:
        for alert in self.alerts:
            if alert.rule == rule and alert.open:
                self.close(alert.id)

    def open_rules(self) -> list[str]:
        return sorted(a.rule for a in self.alerts if a.open)


def daily(values: Iterable[tuple[float, float]], start_days_ago: int) -> list[Reading]:
    return [bp(start_days_ago - i, s, d) for i, (s, d) in enumerate(values)]


def test_a_reading_in_crisis_raises_one_urgent_alert_and_more_such_readings_join_it() -> None:
    centre = Centre(kinds=("bp",))
    centre.arrive(bp(0.5, 128, 82))
    assert centre.raised == []
    centre.arrive(bp(0.4, 186, 104))
    centre.arrive(bp(0.3, 190, 115))
    assert centre.raised == ["bp-urgent"]
    assert centre.alerts[0].readings == {"bp-0.4-186", "bp-0.3-190"}


def test_the_same_reading_sent_twice_or_evaluated_again_raises_nothing_more() -> None:
    centre = Centre(kinds=("bp",))
    crisis = bp(0.2, 182, 100)
    centre.arrive(crisis)
    centre.acknowledge("bp-urgent")
    centre.arrive(crisis)
    centre.arrive(replace(crisis))  # the same reading, resent by the phone
    centre.evaluate()
    assert centre.raised == ["bp-urgent"]


def test_after_the_nurse_acknowledges_a_new_crisis_raises_a_new_alert() -> None:
    centre = Centre(kinds=("bp",))
    centre.arrive(bp(2, 181, 95))
    centre.acknowledge("bp-urgent")
    centre.arrive(bp(1, 185, 96))
    assert centre.raised == ["bp-urgent", "bp-urgent"]
    assert centre.open_rules() == ["bp-urgent"]


def test_each_reading_raises_its_most_urgent_rule_only() -> None:
    centre = Centre(kinds=("bp", "glucose"))
    centre.arrive(bp(1, 165, 85), bp(0.9, 150, 112), bp(0.8, 85, 60), sugar(0.7, 45),
                  sugar(0.6, 190), sugar(0.5, 240, "after-meal"), sugar(0.4, 260, "after-meal"))
    assert sorted(centre.raised) == ["bp-high", "bp-low", "bp-urgent", "glucose-out-of-range",
                                     "glucose-urgent"]
    out_of_range = next(a for a in centre.alerts if a.rule == "glucose-out-of-range")
    # Fasting 190 is above 180; 240 after a meal is within range; 260 is not.
    assert out_of_range.readings == {"glucose-0.6-190", "glucose-0.4-260"}


def test_readings_within_range_and_old_readings_raise_nothing() -> None:
    centre = Centre(kinds=("bp",))
    centre.arrive(bp(0.5, 139, 89), bp(0.4, 120, 70), bp(20, 200, 120))
    assert centre.raised == []


def test_a_plan_s_own_thresholds_replace_the_city_s() -> None:
    strict = replace(CITY_DEFAULTS, bp_high_systolic=150)
    centre = Centre(kinds=("bp",), thresholds=strict)
    centre.arrive(bp(0.5, 152, 80))
    assert centre.raised == ["bp-high"]
    assert Centre(kinds=("bp",)).raised == []


WORSENING = daily([(128, 80)] * 7 + [(146, 88)] * 7, 13)


def test_blood_pressure_rising_week_on_week_raises_worsening_once() -> None:
    centre = Centre(kinds=("bp",))
    for reading in WORSENING:  # each sent as it is taken, a day apart
        centre.now = reading.taken + timedelta(minutes=5)
        centre.arrive(reading)
    assert centre.raised == ["bp-worsening"]
    # Raised on the day the week's mean crossed the target, holding that week's readings.
    assert "bp-2-146" in centre.alerts[0].readings
    assert "bp-13-128" not in centre.alerts[0].readings


def test_worsening_needs_new_readings_after_the_nurse_has_seen_it() -> None:
    centre = Centre(kinds=("bp",))
    centre.arrive(*WORSENING)
    centre.acknowledge("bp-worsening")
    centre.evaluate()
    assert centre.raised == ["bp-worsening"]


def test_a_rise_that_stays_below_target_is_not_worsening() -> None:
    centre = Centre(kinds=("bp",))
    centre.arrive(*daily([(110, 70)] * 7 + [(125, 80)] * 7, 13))
    assert centre.raised == []


def test_no_readings_for_days_raises_missing_once_and_a_reading_closes_it() -> None:
    centre = Centre(kinds=("bp",))
    centre.arrive(bp(6, 130, 80, "last"))
    assert centre.raised == ["bp-missing"]
    centre.evaluate()
    centre.evaluate()
    assert centre.raised == ["bp-missing"]
    centre.arrive(bp(0.1, 131, 80, "back"))
    assert centre.open_rules() == []
    assert centre.raised == ["bp-missing"]


def test_an_acknowledged_gap_is_not_raised_again_but_a_new_gap_is() -> None:
    centre = Centre(kinds=("bp",))
    centre.arrive(bp(10, 130, 80, "first"))
    centre.acknowledge("bp-missing")
    centre.evaluate()
    assert centre.raised == ["bp-missing"]
    centre.arrive(bp(6, 130, 80, "second"))  # late, and still days ago: a new gap
    assert centre.raised == ["bp-missing", "bp-missing"]


def test_a_plan_with_no_reading_yet_is_missing_once_the_grace_days_pass() -> None:
    centre = Centre(kinds=("glucose",))
    centre.evaluate()
    assert centre.raised == ["glucose-missing"]


def test_an_older_reading_arriving_late_does_not_close_the_gap() -> None:
    centre = Centre(kinds=("bp",))
    centre.arrive(bp(6, 130, 80, "before-gap"))
    centre.arrive(bp(8, 128, 80, "older"))
    assert centre.open_rules() == ["bp-missing"]


SEQUENCE = [bp(3, 130, 80), bp(2.5, 184, 100), bp(2, 170, 95), bp(1.5, 162, 90),
            sugar(1.2, 50), sugar(1, 110), bp(0.5, 186, 112), sugar(0.2, 140, "random")]


def _final(order: Sequence[Reading]) -> tuple[list[str], list[frozenset[str]]]:
    # A plan begun yesterday, so no gap alert depends on which kind arrived first.
    centre = Centre(kinds=("bp", "glucose"), started=NOW - timedelta(days=1))
    for reading in order:
        centre.arrive(reading)
    alerts = sorted(centre.alerts, key=lambda a: a.rule)
    return sorted(centre.raised), [a.readings for a in alerts]


def test_the_same_alerts_fire_whatever_order_the_readings_arrive_in() -> None:
    expected = _final(SEQUENCE)
    assert expected[0] == ["bp-high", "bp-urgent", "glucose-urgent"]
    rng = random.Random(8)
    orders = [list(p) for p in itertools.islice(itertools.permutations(SEQUENCE), 0, 40320,
                                                997)]
    orders += [rng.sample(SEQUENCE, len(SEQUENCE)) for _ in range(20)]
    for order in orders:
        assert _final(order) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 13, allow_nan=False), st.integers(85, 200),
                          st.integers(50, 120)), min_size=1, max_size=14),
       st.randoms(use_true_random=False), st.integers(1, 3))
def test_any_readings_in_any_order_with_resends_raise_each_rule_at_most_once(
        values: list[tuple[float, int, int]], rng: random.Random, resends: int) -> None:
    readings = [bp(days, s, min(d, s - 1), f"reading-{i}")
                for i, (days, s, d) in enumerate(values)]
    arrivals = readings * resends
    rng.shuffle(arrivals)
    centre = Centre(kinds=("bp",))
    for reading in arrivals:
        centre.arrive(reading)
    reading_rules = [r for r in centre.raised if r in ("bp-urgent", "bp-high", "bp-low")]
    assert len(reading_rules) == len(set(reading_rules))
    counted = [r for a in centre.alerts for r in a.readings]
    per_rule = {a.rule: a.readings for a in centre.alerts}
    assert all(len(rs) == len(set(rs)) for rs in per_rule.values())
    assert len(counted) == len({(a.rule, r) for a in centre.alerts for r in a.readings})
    # Nothing missed: every reading that breaks a rule on its own is in that rule's alert.
    for reading in readings:
        rule = reading_rule(reading, CITY_DEFAULTS)
        if rule is not None:
            assert reading.id in per_rule[rule]
