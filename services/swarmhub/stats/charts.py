"""Charts as inline SVG, drawn on the server: the page needs no script and no CDN."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least `value` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return int(10 * magnitude)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    unit: str,
    width: int = 900,
    height: int = 220,
    label_every: int = 1,
    css_class: str = "chart",
    compact: bool = False,
) -> str:
    """A bar chart with a y axis (0 to a round maximum) and every label_every-th x label.

    Each bar carries a <title> (the tooltip) with its label and value, so the numbers
    are readable without a script. `compact`: a small chart without title and unit line.
    """
    if len(labels) != len(values):
        raise ValueError("bar_chart: as many labels as values, please")
    left, right, top, bottom = (30, 16, 6, 16) if compact else (44, 40, 26, 46)
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = nice_ceiling(max(values, default=0))
    n = max(len(values), 1)
    slot = plot_w / n
    bar = max(slot * 0.8, 1.0)
    parts = [
        f'<svg class="{escape(css_class)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title or unit)}">'
    ]
    if not compact:
        parts.append(f'<text x="{left}" y="16" class="title">{escape(title)}</text>')
    ticks = (0, peak) if compact or peak < 2 else (0, peak / 2, peak)
    for tick in ticks:
        y = top + plot_h - (tick / peak) * plot_h
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{_number(tick)}</text>"
        )
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = left + i * slot + (slot - bar) / 2
        h = (value / peak) * plot_h
        y = top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(label)}: {_number(value)} {escape(unit)}</title></rect>"
        )
        if i % max(label_every, 1) == 0:
            lx = left + i * slot + slot / 2
            parts.append(
                f'<text x="{lx:.1f}" y="{top + plot_h + 13}" text-anchor="middle" '
                f'class="tick">{escape(label)}</text>'
            )
    if not compact:
        parts.append(f'<text x="{left}" y="{height - 6}" class="axis">{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
