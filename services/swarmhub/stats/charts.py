"""Charts as inline SVG, drawn on the server: the page needs no script and no CDN."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
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


# Heat map colours on a fixed scale, so that a colour means the same on every page of
# the table: not active, then active for under 15, 15-29, 30-59, 60-119, 120+ minutes.
HEAT_COLOURS = ("#ebedf0", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
HEAT_STEPS = (15, 30, 60, 120)
HEAT_LEGEND = ("0", "under 15", "15–29", "30–59", "60–119", "120 or more")
LEGEND_WIDTH = 540


def heat_level(minutes: float) -> int:
    """The index into HEAT_COLOURS of a day with `minutes` active minutes."""
    if minutes <= 0:
        return 0
    return 1 + sum(1 for step in HEAT_STEPS if minutes >= step)


def heat_map(
    names: Sequence[str],
    days: Sequence[date],
    minutes: Sequence[Sequence[float]],
    *,
    title: str,
    max_width: int = 900,
) -> str:
    """Users by day: one row per name (in the given order), one cell per day, coloured by
    the active minutes of `minutes[row][day]`, with a legend of the colours.

    Each cell carries a <title> tooltip "name, YYYY-MM-DD: N active minutes".
    """
    if len(names) != len(minutes) or any(len(row) != len(days) for row in minutes):
        raise ValueError("heat_map: one row of minutes per name and one value per day, please")
    label_w, top, row_h, gap = 160, 44, 16, 2
    columns = max(len(days), 1)
    cell_w = min(max((max_width - label_w) / columns, 3.0), 24.0)
    cell_gap = gap if cell_w >= 8 else 0
    label_every = math.ceil(44 / cell_w)  # "11-20" needs about 40 px
    legend_y = top + len(names) * row_h + 14
    height = legend_y + 28
    # as wide as the grid (wider for a year of days), at least as wide as the legend
    width = max(math.ceil(label_w + columns * cell_w) + 20, LEGEND_WIDTH)  # 20: the last date
    parts = [
        f'<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="0" y="16" class="title">{escape(title)}</text>',
    ]
    for j, day in enumerate(days):
        if j % label_every == 0:
            x = label_w + j * cell_w + cell_w / 2
            parts.append(
                f'<text x="{x:.1f}" y="{top - 6}" text-anchor="middle" class="tick">'
                f"{day.strftime('%m-%d')}</text>"
            )
    for i, (name, row) in enumerate(zip(names, minutes, strict=True)):
        y = top + i * row_h
        # a long name is shortened to fit; its tooltip has it whole
        label = (
            escape(name)
            if len(name) <= 22
            else f"{escape(name[:21])}…<title>{escape(name)}</title>"
        )
        parts.append(
            f'<g class="row"><text x="{label_w - 6}" y="{y + row_h - 4}" text-anchor="end" '
            f'class="name">{label}</text>'
        )
        for j, (day, value) in enumerate(zip(days, row, strict=True)):
            fill = HEAT_COLOURS[heat_level(value)]
            parts.append(
                f'<rect x="{label_w + j * cell_w:.1f}" y="{y}" width="{cell_w - cell_gap:.1f}" '
                f'height="{row_h - gap}" fill="{fill}" class="cell">'
                f"<title>{escape(name)}, {day.isoformat()}: {_number(value)} active minutes"
                f"</title></rect>"
            )
        parts.append("</g>")
    parts.append(_heat_legend(legend_y))
    parts.append("</svg>")
    return "".join(parts)


def _heat_legend(y: int) -> str:
    parts = [
        f'<g class="legend"><text x="0" y="{y + 11}" class="axis">active minutes a day:</text>'
    ]
    x = 130
    for fill, label in zip(HEAT_COLOURS, HEAT_LEGEND, strict=True):
        parts.append(
            f'<rect x="{x}" y="{y}" width="14" height="14" fill="{fill}"/>'
            f'<text x="{x + 18}" y="{y + 11}" class="tick">{escape(label)}</text>'
        )
        x += 26 + 7 * len(label)
    parts.append("</g>")
    return "".join(parts)
