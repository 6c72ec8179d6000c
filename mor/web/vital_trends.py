"""Vital signs over time as the record pages show them: a line chart per kind, drawn on
the server as inline SVG (like :mod:`mor.web.charts`, no chart library on a slow phone),
with the numbers in a table beside it for screen readers and exact values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from markupsafe import Markup, escape

from mor.services.records.vital_signs import VitalKind, VitalSign
from mor.web.charts import COLOURS
from mor.web.i18n import N_
from mor.web.record_summary import RecordView

# The second line of a blood-pressure chart: dashed as well as coloured, so the two are
# told apart without colour.
_COMPONENT_NAMES: Final = {"8480-6": N_("Systolic"), "8462-4": N_("Diastolic")}


@dataclass(frozen=True, slots=True)
class Trend:
    """One kind of vital sign measured more than once: the chart and its numbers."""

    kind: VitalKind
    signs: tuple[VitalSign, ...]  # oldest first
    chart: Markup  # inline SVG, a picture of the table of ``signs`` beside it


def trends(history: list[tuple[VitalKind, tuple[VitalSign, ...]]], view: RecordView
           ) -> list[Trend]:
    return [Trend(kind, signs, _trend_chart(kind, signs, view)) for kind, signs in history]


def _trend_chart(kind: VitalKind, signs: tuple[VitalSign, ...], view: RecordView,
                 *, width: int = 480, height: int = 180) -> Markup:
    """A line per value of the kind (two for blood pressure, the second dashed), points
    marked, first and last day below: drawn on the server as inline SVG like
    mor.web.charts, no chart library on a slow phone. The table beside it has the
    numbers, for screen readers and for reading exact values."""
    lines = len(kind.components) or 1
    values = [v.value for sign in signs for v in sign.values if v is not None]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1, high + 1
    left, right, top, bottom = 44, 12, 10, height - 40
    step = (width - left - right) / max(len(signs) - 1, 1)

    def y(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    title = view.vital_name(signs[0])
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" '
             'stroke="#3d4b59"/>']
    for bound in (low, high):
        parts.append(f'<text x="{left - 6}" y="{y(bound) + 4:.1f}" font-size="12" '
                     f'text-anchor="end" fill="#1b2733">{escape(_short(bound))}</text>')
    for line in range(lines):
        points = [(left + i * step, y(value.value)) for i, sign in enumerate(signs)
                  if (value := sign.values[line]) is not None]
        dash = ' stroke-dasharray="6 4"' if line else ""
        colour = COLOURS[line % len(COLOURS)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} '
                     f'points="{" ".join(f"{x:.1f},{py:.1f}" for x, py in points)}"/>')
        for x, py in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>')
    for i in (0, len(signs) - 1):
        anchor = "start" if i == 0 else "end"
        parts.append(f'<text x="{left + i * step:.1f}" y="{bottom + 16}" font-size="12" '
                     f'text-anchor="{anchor}" fill="#1b2733">'
                     f'{escape(view.day(signs[i].effective))}</text>')
    if kind.components:
        x = float(left)
        for line, code in enumerate(kind.components):
            dash = ' stroke-dasharray="6 4"' if line else ""
            label = view.text(_COMPONENT_NAMES.get(code, code))
            parts.append(f'<line x1="{x:.1f}" y1="{height - 10}" x2="{x + 24:.1f}" '
                         f'y2="{height - 10}" stroke="{COLOURS[line]}" stroke-width="2"'
                         f'{dash}/><text x="{x + 30:.1f}" y="{height - 6}" font-size="12" '
                         f'fill="#1b2733">{escape(label)}</text>')
            x += 40 + 8 * len(label)
    parts.append("</svg>")
    # Every text in it was escaped above.
    return Markup("".join(parts))


def _short(value: float) -> str:
    return f"{value:g}"
