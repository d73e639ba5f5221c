"""The page's SVG charts: bar heights and heat map colours follow the values, text is escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from swarmhub.stats.charts import HEAT_COLOURS, bar_chart, heat_level, heat_map, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (1.5, 2), (3, 5), (7, 10), (11, 20), (240, 500)]
)
def test_axis_maximum_is_a_round_number(value: float, ceiling: int) -> None:
    assert nice_ceiling(value) == ceiling


def test_bars_are_proportional_and_carry_their_values() -> None:
    svg = bar_chart(["09:00", "10:00", "11:00"], [2, 4, 0], title="Active", unit="users")
    root = ET.fromstring(svg)  # well-formed XML
    bars = root.findall(f"{SVG}rect")
    heights = [float(b.get("height", "nan")) for b in bars]
    assert heights[0] * 2 == pytest.approx(heights[1])
    assert heights[2] == 0
    assert [b.find(f"{SVG}title").text for b in bars] == [  # type: ignore[union-attr]
        "09:00: 2 users",
        "10:00: 4 users",
        "11:00: 0 users",
    ]


def test_labels_and_titles_are_escaped() -> None:
    svg = bar_chart(["<b>&"], [1], title='a "quoted" <title>', unit="x")
    ET.fromstring(svg)
    assert "<b>" not in svg
    assert re.search(r"&lt;b&gt;&amp;", svg)


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="as many labels as values"):
        bar_chart(["a"], [1, 2], title="", unit="")


DAYS = [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]


def cells(svg: str) -> list[ET.Element]:
    return ET.fromstring(svg).findall(f".//{SVG}rect[@class='cell']")


def test_heat_map_has_a_cell_per_user_and_day_with_its_minutes() -> None:
    svg = heat_map(["ann", "bob"], DAYS, [[0, 35, 125], [5, 0, 0]], title="Active minutes")
    rows = ET.fromstring(svg).findall(f"{SVG}g[@class='row']")
    assert [r.find(f"{SVG}text").text for r in rows] == ["ann", "bob"]  # type: ignore[union-attr]
    assert "".join(rows[0].find(f"{SVG}text").itertext()) == "ann"  # type: ignore[union-attr]
    found = cells(svg)
    assert len(found) == 6
    assert found[1].find(f"{SVG}title").text == "ann, 2026-11-21: 35 active minutes"  # type: ignore[union-attr]
    # no activity, a little, a lot: the fixed scale's first, a middle and the last colour
    assert [c.get("fill") for c in found[:3]] == [HEAT_COLOURS[0], HEAT_COLOURS[3], HEAT_COLOURS[5]]
    assert found[3].get("fill") == HEAT_COLOURS[1]


@pytest.mark.parametrize(
    ("minutes", "level"), [(0, 0), (0.2, 1), (14, 1), (15, 2), (59, 3), (60, 4), (119, 4), (120, 5)]
)
def test_heat_levels_are_fixed_steps_of_minutes(minutes: float, level: int) -> None:
    assert heat_level(minutes) == level


def test_heat_map_has_a_legend_of_every_colour() -> None:
    svg = heat_map(["ann"], DAYS, [[0, 0, 0]], title="Active minutes")
    legend = ET.fromstring(svg).find(f"{SVG}g[@class='legend']")
    assert legend is not None
    assert [r.get("fill") for r in legend.findall(f"{SVG}rect")] == list(HEAT_COLOURS)
    texts = [t.text for t in legend.findall(f"{SVG}text")]
    assert texts[0] == "active minutes a day:"
    assert texts[-1] == "120 or more"


@pytest.mark.parametrize("name", ["<script>", '"onmouseover=x', "a&b"])
def test_heat_map_shows_hostile_names_as_text(name: str) -> None:
    svg = heat_map([name], DAYS[:1], [[3]], title="t")
    root = ET.fromstring(svg)  # still well-formed: the name could not add markup
    assert root.find(f".//{SVG}text[@class='name']").text == name  # type: ignore[union-attr]
    assert cells(svg)[0].find(f"{SVG}title").text == f"{name}, 2026-11-20: 3 active minutes"  # type: ignore[union-attr]
    assert "<script>" not in svg and '"onmouseover' not in svg


def test_heat_map_shortens_long_names_but_keeps_them_whole_in_the_tooltip() -> None:
    name = "a-very-long-user-name-of-a-course-guest"
    label = ET.fromstring(heat_map([name], DAYS, [[0, 0, 0]], title="t")).find(
        f".//{SVG}text[@class='name']"
    )
    assert label is not None and label.text is not None
    assert label.text.endswith("…") and len(label.text) == 22
    assert label.find(f"{SVG}title").text == name  # type: ignore[union-attr]


def test_heat_map_refuses_rows_that_do_not_fit_the_days() -> None:
    with pytest.raises(ValueError, match="one value per day"):
        heat_map(["ann"], DAYS, [[1, 2]], title="t")
