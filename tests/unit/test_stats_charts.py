"""The page's SVG charts: bar heights follow the values, text is escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from swarmhub.stats.charts import bar_chart, nice_ceiling

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
