"""A patient's home readings of one kind over the last days, against their plan's
targets, as the readings page shows them: inline SVG drawn on the server (like
:mod:`mor.web.vital_trends`, no chart library on a slow phone), time along the bottom,
the target as a band or a dotted line, and each reading off target drawn as a diamond
with a mark, not only in another colour. The table beside the chart has the numbers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from markupsafe import Markup, escape

from mor.services.monitoring.codes import READING_KINDS
from mor.services.monitoring.readings import Reading
from mor.services.monitoring.thresholds import Thresholds
from mor.web.charts import COLOURS
from mor.web.i18n import N_

OFF_TARGET: Final = {"high": N_("Above target"), "low": N_("Below target")}
_INK: Final = "#1b2733"
_OFF: Final = "#b42318"
_BAND: Final = "#e6f4ea"


def off_target(reading: Reading, thresholds: Thresholds) -> str | None:
    """"high" or "low" when the reading is off the plan's target, else None. Blood
    pressure: at or above the target (140/90), or dangerously low; fasting blood sugar:
    outside its target (80-130); blood sugar at other times: outside the range the
    alerts follow (70 to 250); weight has no target."""
    values = reading.values
    if reading.kind == "bp":
        if values["systolic"] >= thresholds.target_systolic or (
                values["diastolic"] >= thresholds.target_diastolic):
            return "high"
        return "low" if values["systolic"] < thresholds.bp_low_systolic else None
    if reading.kind == "glucose":
        glucose = values["glucose"]
        fasting = reading.context == "fasting"
        low = thresholds.target_glucose_low if fasting else thresholds.glucose_low
        high = thresholds.target_glucose_high if fasting else \
            thresholds.glucose_after_meal_high
        return "low" if glucose < low else "high" if glucose > high else None
    return None


@dataclass(frozen=True, slots=True)
class Target:
    low: float | None  # a band from low to high, or a line at high
    high: float
    label: str  # translated, e.g. "Target: below 140/90"


def reading_chart(kind: str, readings: Sequence[Reading], thresholds: Thresholds, *,
                  since: datetime, until: datetime, text: Callable[[str], str],
                  day: Callable[[datetime], str], width: int = 480, height: int = 220
                  ) -> Markup:
    """The readings (oldest first) from ``since`` to ``until``; ``text`` translates a
    msgid, ``day`` writes a date as the page does."""
    lines = ("systolic", "diastolic") if kind == "bp" else (kind,)
    targets = _targets(kind, thresholds, text)
    values = [r.values[name] for r in readings for name in lines]
    bounds = values + [t.high for t in targets] + [t.low for t in targets if t.low]
    low, high = min(bounds), max(bounds)
    span = max(high - low, 1.0)
    low, high = low - span * 0.1, high + span * 0.1
    left, right, top, bottom = 44, 12, 10, height - 62
    seconds = max((until - since).total_seconds(), 1.0)

    def x(moment: datetime) -> float:
        share = (moment - since).total_seconds() / seconds
        return left + min(max(share, 0.0), 1.0) * (width - left - right)

    def y(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    title = text(READING_KINDS[kind].name)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">']
    for target in targets:
        if target.low is not None:
            parts.append(f'<rect x="{left}" y="{y(target.high):.1f}" '
                         f'width="{width - left - right}" '
                         f'height="{y(target.low) - y(target.high):.1f}" fill="{_BAND}" '
                         f'stroke="{COLOURS[1]}" stroke-dasharray="2 3"/>')
        else:
            parts.append(f'<line x1="{left}" y1="{y(target.high):.1f}" '
                         f'x2="{width - right}" y2="{y(target.high):.1f}" '
                         f'stroke="{COLOURS[1]}" stroke-width="1.5" '
                         f'stroke-dasharray="2 3"/>')
        for bound in (target.low, target.high):
            if bound is not None:
                parts.append(f'<text x="{left - 6}" y="{y(bound) + 4:.1f}" font-size="12" '
                             f'text-anchor="end" fill="{_INK}">{bound:g}</text>')
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" '
                 f'stroke="#3d4b59"/>')
    for line, name in enumerate(lines):
        colour = COLOURS[0]
        dash = ' stroke-dasharray="6 4"' if line else ""
        points = [(x(r.taken), y(r.values[name])) for r in readings]
        if len(points) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} '
                         f'points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}"/>')
        for reading, (px, py) in zip(readings, points, strict=True):
            if off_target(reading, thresholds):
                parts.append(_off_mark(px, py))
            else:
                parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" '
                             f'fill="{colour}"/>')
    for moment, anchor in ((since, "start"), (until, "end")):
        parts.append(f'<text x="{x(moment):.1f}" y="{bottom + 16}" font-size="12" '
                     f'text-anchor="{anchor}" fill="{_INK}">{escape(day(moment))}</text>')
    parts.append(_legend(kind, targets, text, height))
    parts.append("</svg>")
    # Every text in it was escaped above.
    return Markup("".join(parts))


def _targets(kind: str, thresholds: Thresholds, text: Callable[[str], str]
             ) -> list[Target]:
    if kind == "bp":
        label = text(N_("Target: below {systolic}/{diastolic}")).format(
            systolic=f"{thresholds.target_systolic:g}",
            diastolic=f"{thresholds.target_diastolic:g}")
        return [Target(None, thresholds.target_systolic, label),
                Target(None, thresholds.target_diastolic, label)]
    if kind == "glucose":
        return [Target(thresholds.target_glucose_low, thresholds.target_glucose_high,
                       text(N_("Fasting target: {low} to {high}")).format(
                           low=f"{thresholds.target_glucose_low:g}",
                           high=f"{thresholds.target_glucose_high:g}"))]
    return []


def _off_mark(px: float, py: float) -> str:
    """A diamond with an exclamation mark: off target, told by shape as well as colour."""
    return (f'<path d="M{px:.1f},{py - 7:.1f} L{px + 7:.1f},{py:.1f} L{px:.1f},{py + 7:.1f} '
            f'L{px - 7:.1f},{py:.1f} Z" fill="{_OFF}"/>'
            f'<text x="{px:.1f}" y="{py + 4:.1f}" font-size="10" font-weight="700" '
            f'text-anchor="middle" fill="#fff">!</text>')


def _legend(kind: str, targets: Sequence[Target], text: Callable[[str], str],
            height: int) -> str:
    parts: list[str] = []
    x = 0.0
    row = height - 28
    if kind == "bp":
        for line, label in enumerate((text(N_("Systolic")), text(N_("Diastolic")))):
            dash = ' stroke-dasharray="6 4"' if line else ""
            parts.append(f'<line x1="{x:.1f}" y1="{row - 4}" x2="{x + 24:.1f}" '
                         f'y2="{row - 4}" stroke="{COLOURS[0]}" stroke-width="2"{dash}/>'
                         f'<text x="{x + 30:.1f}" y="{row}" font-size="12" '
                         f'fill="{_INK}">{escape(label)}</text>')
            x += 40 + 7 * len(label)
    off = text(N_("Off target"))
    parts.append(_off_mark(x + 7, row - 4) + f'<text x="{x + 18:.1f}" y="{row}" '
                 f'font-size="12" fill="{_INK}">{escape(off)}</text>')
    if targets:
        parts.append(f'<line x1="0" y1="{height - 8}" x2="24" y2="{height - 8}" '
                     f'stroke="{COLOURS[1]}" stroke-width="1.5" stroke-dasharray="2 3"/>'
                     f'<text x="30" y="{height - 4}" font-size="12" fill="{_INK}">'
                     f'{escape(targets[0].label)}</text>')
    return "".join(parts)

