"""Bar charts drawn as inline SVG on the server: no chart library to download on a slow
phone, and the numbers are in a table beside each chart for screen readers."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Final

# Distinguishable in colour-blind vision and dark enough for white-on-colour contrast.
COLOURS: Final = ("#0b5f7a", "#1e7b34", "#b42318", "#6b5b00")


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: list[int]


def stacked_columns(title: str, categories: list[str], series: list[Series], *,
                    width: int = 480, height: int = 200) -> str:
    """Columns per category, each stacked from the series' values, with a legend."""
    top = max((sum(s.values[i] for s in series) for i in range(len(categories))), default=0)
    top = max(top, 1)
    plot_height = height - 50
    column = width / max(len(categories), 1)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">']
    for i, category in enumerate(categories):
        base = float(plot_height)
        for colour, one in zip(COLOURS, series, strict=False):
            bar = one.values[i] / top * (plot_height - 10)
            if bar:
                parts.append(f'<rect x="{i * column + column * 0.15:.1f}" y="{base - bar:.1f}"'
                             f' width="{column * 0.7:.1f}" height="{bar:.1f}" '
                             f'fill="{colour}"/>')
            base -= bar
        parts.append(f'<text x="{i * column + column / 2:.1f}" y="{plot_height + 16}" '
                     f'font-size="12" text-anchor="middle" fill="#1b2733">'
                     f'{escape(category)}</text>')
    x = 0.0
    for colour, one in zip(COLOURS, series, strict=False):
        parts.append(f'<rect x="{x:.1f}" y="{height - 18}" width="12" height="12" '
                     f'fill="{colour}"/><text x="{x + 16:.1f}" y="{height - 8}" '
                     f'font-size="12" fill="#1b2733">{escape(one.label)}</text>')
        x += 24 + 8 * len(one.label)
    parts.append("</svg>")
    return "".join(parts)
