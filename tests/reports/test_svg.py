from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.reports.svg import Bar, ChartSeries, Mark, bar_chart, gauge, line_chart, nice_ticks

NS = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(1)</script>\"&'"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything not well-formed


def test_line_chart_escapes_and_draws_every_series() -> None:
    series = [
        ChartSeries(EVIL, ((0.0, 1.0), (1.0, 2.0), (2.0, 1.5))),
        ChartSeries("B", ((0.0, 0.5), (2.0, 0.7))),
    ]
    svg = line_chart("t", EVIL, series, marks=(Mark(0.01, EVIL),))
    assert "<script>" not in svg
    root = _parse(svg)
    lines = root.findall(f".//{NS}polyline")
    assert len(lines) == 2 and all(line.get("points") for line in lines)
    assert root.find(f"{NS}title").text == EVIL  # type: ignore[union-attr]
    assert root.get("data-chart") == "t"


def test_bar_chart_and_gauge_are_well_formed() -> None:
    root = _parse(bar_chart("b", "bars", [Bar(EVIL, 1.0), Bar("x", 0.0)], reference=0.5))
    assert len(root.findall(f".//{NS}rect")) == 2
    root = _parse(gauge("g", "gauge", 0.015, marks=(Mark(0.01, "1%"), Mark(0.02, "2%")), high=0.03))
    assert len(root.findall(f".//{NS}polygon")) == 1
    assert len(root.findall(f".//{NS}rect")) == 3


def test_empty_inputs_say_so() -> None:
    assert "No data yet" in line_chart("e", "empty", [ChartSeries("A", ())])
    assert "No data yet" in bar_chart("e", "empty", [])
    _parse(line_chart("one", "one point", [ChartSeries("A", ((1.0, 1.0),))]))


@settings(max_examples=100, deadline=None)
@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.floats(min_value=1e-3, max_value=1e6, allow_nan=False),
)
def test_nice_ticks_cover_the_range(low: float, width: float) -> None:
    high = low + width
    ticks = nice_ticks(low, high)
    slack = 1e-6 * width  # rounding to a whole step, nothing more
    assert ticks[0] <= low + slack
    assert ticks[-1] >= high - slack
    assert 2 <= len(ticks) <= 12
    assert ticks == sorted(ticks)


@pytest.mark.parametrize(
    ("low", "high", "expected"), [(0, 7.73, [0, 2, 4, 6, 8]), (0, 1, [0, 0.25, 0.5, 0.75, 1])]
)
def test_nice_ticks_examples(low: float, high: float, expected: list[float]) -> None:
    assert nice_ticks(low, high) == pytest.approx(expected)
