"""When a reading raises an alert: city-wide defaults, which one plan may change for its
patient (kept on the CarePlan as ``alert-threshold`` extensions, only where it differs).

The defaults follow the common clinical guidance for home readings: blood pressure at or
above 180 systolic or 110 diastolic is urgent the same day (a hypertensive crisis), below
90 systolic too; 160/100 is out of range and worth a call; the target is below 140/90.
Blood sugar below 54 mg/dL (serious hypoglycaemia) or at or above 300 is urgent; below 70,
fasting above 180 or after a meal above 250 is out of range; the fasting target is
80-130.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Final

from mor.services.monitoring.codes import THRESHOLD_URL


@dataclass(frozen=True, slots=True)
class Thresholds:
    bp_urgent_systolic: float = 180
    bp_urgent_diastolic: float = 110
    bp_low_systolic: float = 90
    bp_high_systolic: float = 160
    bp_high_diastolic: float = 100
    target_systolic: float = 140  # at target: below these
    target_diastolic: float = 90
    glucose_urgent_low: float = 54
    glucose_urgent_high: float = 300
    glucose_low: float = 70
    glucose_fasting_high: float = 180
    glucose_after_meal_high: float = 250
    target_glucose_low: float = 80  # fasting, at target: from low to high
    target_glucose_high: float = 130
    # Worsening: the mean of the last ``trend_days`` against the days before, at least
    # ``trend_readings`` readings in each.
    worsening_systolic_rise: float = 10
    worsening_glucose_rise: float = 20
    trend_days: int = 7
    trend_readings: int = 3
    # Missing: no reading of a kind the plan asks for in this many days.
    missing_days: int = 4


CITY_DEFAULTS: Final = Thresholds()
NAMES: Final = tuple(f.name for f in fields(Thresholds))
_WHOLE: Final = frozenset({"trend_days", "trend_readings", "missing_days"})


class BadThreshold(ValueError):
    """A threshold that is not a number, or not one a plan can have."""


def parse(name: str, text: str) -> float | int:
    """A threshold typed in a form; raises BadThreshold."""
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise BadThreshold(name) from None
    if not 0 < value < 1000 or (name in _WHOLE and value != int(value)):
        raise BadThreshold(name)
    return int(value) if name in _WHOLE else value


def of_plan(plan: dict[str, Any], defaults: Thresholds = CITY_DEFAULTS) -> Thresholds:
    """The plan's thresholds: the defaults, changed where the plan says."""
    changes: dict[str, float | int] = {}
    for extension in plan.get("extension") or ():
        if extension.get("url") != THRESHOLD_URL:
            continue
        parts = {part.get("url"): part for part in extension.get("extension") or ()}
        name = (parts.get("name") or {}).get("valueCode")
        value = (parts.get("value") or {}).get("valueDecimal")
        if name in NAMES and isinstance(value, int | float):
            changes[name] = int(value) if name in _WHOLE else float(value)
    return replace(defaults, **changes)  # type: ignore[arg-type]


def extensions(thresholds: Thresholds, defaults: Thresholds = CITY_DEFAULTS
               ) -> list[dict[str, Any]]:
    """The plan's extensions for where ``thresholds`` differ from the defaults."""
    own, usual = asdict(thresholds), asdict(defaults)
    return [{"url": THRESHOLD_URL, "extension": [
        {"url": "name", "valueCode": name}, {"url": "value", "valueDecimal": own[name]}]}
        for name in NAMES if own[name] != usual[name]]
