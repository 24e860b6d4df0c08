"""Server-side inline SVG charts: no JavaScript, no network, every label escaped.

Charts scale with their container (``viewBox`` + ``width="100%"``) so they read on a phone. Each
returns one ``<svg>`` string with a ``<title>`` for screen readers and a ``data-chart`` name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
WIDTH = 640
HEIGHT = 280
MARGIN_LEFT = 56
MARGIN_RIGHT = 16
MARGIN_TOP = 30
MARGIN_BOTTOM = 52


@dataclass(frozen=True)
class ChartSeries:
    name: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Mark:
    """A horizontal reference line (e.g. the 1% / 2% opt-out marks)."""

    y: float
    label: str
    colour: str = "#888888"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float


def _num(value: float) -> str:
    return f"{value:.1f}"


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    return [low + (high - low) * i / (count - 1) for i in range(count)]


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) covering low..high.

    >>> nice_ticks(0, 7.73)
    [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    if high <= low:
        return [low]
    raw = (high - low) / max(target - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = _snap(low / step, math.floor)
    last = _snap(high / step, math.ceil)
    ticks = [float(round(i * step, 12)) for i in range(first, last + 1)]
    return ticks


def _snap(quotient: float, direction: Callable[[float], int]) -> int:
    """An integer tick index: the nearest one when within rounding error, else ``direction``."""
    nearest = round(quotient)
    return int(nearest) if abs(quotient - nearest) < 1e-9 else int(direction(quotient))


def _frame(name: str, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(name)}" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _empty(name: str, title: str) -> str:
    return _frame(
        name,
        title,
        [
            f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" '
            f'fill="#666">No data yet</text>'
        ],
    )


def line_chart(
    name: str,
    title: str,
    series: Sequence[ChartSeries],
    *,
    x_format: Callable[[float], str] = lambda x: f"{x:g}",
    y_format: Callable[[float], str] = lambda y: f"{y:g}",
    marks: Sequence[Mark] = (),
    y_min: float | None = None,
    y_max: float | None = None,
    fill: bool = False,
    round_x_ticks: bool = False,
) -> str:
    """Lines (one per series) with axes, ticks, a legend and optional reference marks.

    ``round_x_ticks`` puts x ticks on round values (for numbers, not for dates).
    """
    points = [p for s in series for p in s.points if math.isfinite(p[0]) and math.isfinite(p[1])]
    if not points:
        return _empty(name, title)
    x_low, x_high = min(p[0] for p in points), max(p[0] for p in points)
    y_values = [p[1] for p in points] + [m.y for m in marks]
    y_low = min(y_values) if y_min is None else y_min
    y_high = max(y_values) if y_max is None else y_max
    if y_high <= y_low:
        y_high = y_low + (abs(y_low) or 1.0)
    y_ticks = nice_ticks(y_low, y_high)
    if y_max is None:
        y_high = max(y_high, y_ticks[-1])
    if y_min is None:
        y_low = min(y_low, y_ticks[0])
    y_ticks = [t for t in y_ticks if y_low - 1e-12 <= t <= y_high + 1e-12]
    if x_high <= x_low:
        x_low, x_high = x_low - 0.5, x_high + 0.5
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def sx(x: float) -> float:
        return MARGIN_LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def sy(y: float) -> float:
        return MARGIN_TOP + plot_h - (y - y_low) / (y_high - y_low) * plot_h

    body = [
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP + plot_h}" '
        f'x2="{MARGIN_LEFT + plot_w}" y2="{MARGIN_TOP + plot_h}" stroke="#333"/>',
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" '
        f'y2="{MARGIN_TOP + plot_h}" stroke="#333"/>',
    ]
    for tick in y_ticks:
        y = _num(sy(tick))
        body.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y}" x2="{MARGIN_LEFT + plot_w}" y2="{y}" '
            f'stroke="#e5e5e5"/><text x="{MARGIN_LEFT - 6}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle" font-size="11" fill="#444">{escape(y_format(tick))}</text>'
        )
    x_ticks = _ticks(x_low, x_high)
    if round_x_ticks:
        inside = [t for t in nice_ticks(x_low, x_high) if x_low - 1e-12 <= t <= x_high + 1e-12]
        x_ticks = inside if len(inside) >= 2 else x_ticks
    for tick in x_ticks:
        x = _num(sx(tick))
        offset = sx(tick) - MARGIN_LEFT
        anchor = "start" if offset < 20 else "end" if offset > plot_w - 20 else "middle"
        body.append(
            f'<text x="{x}" y="{MARGIN_TOP + plot_h + 16}" text-anchor="{anchor}" font-size="11" '
            f'fill="#444">{escape(x_format(tick))}</text>'
        )
    for mark in marks:
        y = _num(sy(mark.y))
        body.append(
            f'<g class="mark"><line x1="{MARGIN_LEFT}" y1="{y}" x2="{MARGIN_LEFT + plot_w}" '
            f'y2="{y}" stroke="{escape(mark.colour)}" stroke-dasharray="6 4" stroke-width="1.5"/>'
            f'<text x="{MARGIN_LEFT + plot_w - 4}" y="{_num(sy(mark.y) - 4)}" text-anchor="end" '
            f'font-size="11" fill="{escape(mark.colour)}">{escape(mark.label)}</text></g>'
        )
    legend_x = MARGIN_LEFT
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        finite = [(x, y) for x, y in item.points if math.isfinite(x) and math.isfinite(y)]
        coords = " ".join(f"{_num(sx(x))},{_num(sy(y))}" for x, y in finite)
        if fill and finite:
            base = _num(sy(max(y_low, 0.0)))
            area = f"{_num(sx(finite[0][0]))},{base} {coords} {_num(sx(finite[-1][0]))},{base}"
            body.append(
                f'<polygon points="{area}" fill="{colour}" fill-opacity="0.15" stroke="none"/>'
            )
        if len(finite) == 1:
            only_x, only_y = finite[0]
            body.append(
                f'<circle class="series" data-series="{escape(item.name)}" cx="{_num(sx(only_x))}" '
                f'cy="{_num(sy(only_y))}" r="3" fill="{colour}"/>'
            )
        elif finite:
            body.append(
                f'<polyline class="series" data-series="{escape(item.name)}" points="{coords}" '
                f'fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        label = escape(_short(item.name, 40))
        body.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 18}" width="10" height="10" fill="{colour}"/>'
            f'<text class="legend" x="{legend_x + 14}" y="{HEIGHT - 9}" font-size="11" '
            f'fill="#222">{label}</text>'
        )
        legend_x += 24 + 7 * min(len(item.name), 40)
    return _frame(name, title, body)


def bar_chart(
    name: str,
    title: str,
    bars: Sequence[Bar],
    *,
    value_format: Callable[[float], str] = lambda v: f"{v:g}",
    reference: float | None = None,
    reference_label: str = "overall",
) -> str:
    """Horizontal bars, one per label, with an optional vertical reference line."""
    if not bars:
        return _empty(name, title)
    width = 440
    row_h = 20
    height = MARGIN_TOP + row_h * len(bars) + 12
    label_w = 150
    plot_w = width - label_w - 56
    high = max([b.value for b in bars] + ([reference] if reference is not None else []))
    high = high if high > 0 else 1.0
    body = []
    for index, bar in enumerate(bars):
        y = MARGIN_TOP + index * row_h
        bar_w = max(bar.value, 0.0) / high * plot_w
        body.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="11" '
            f'fill="#222">{escape(_short(bar.label, 24))}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{_num(bar_w)}" height="{row_h - 6}" '
            f'fill="{PALETTE[0]}"/>'
            f'<text x="{_num(label_w + bar_w + 4)}" y="{y + 14}" font-size="11" '
            f'fill="#444">{escape(value_format(bar.value))}</text>'
        )
    if reference is not None:
        x = _num(label_w + reference / high * plot_w)
        body.append(
            f'<g class="mark"><line x1="{x}" y1="{MARGIN_TOP - 4}" x2="{x}" '
            f'y2="{MARGIN_TOP + row_h * len(bars)}" stroke="#d62728" stroke-dasharray="4 3"/>'
            f'<text x="{x}" y="{MARGIN_TOP - 8}" text-anchor="middle" font-size="11" '
            f'fill="#d62728">{escape(reference_label)}</text></g>'
        )
    return (
        f'<svg class="chart" data-chart="{escape(name)}" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, keeping its end (where variant names differ)."""
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def gauge(
    name: str,
    title: str,
    value: float | None,
    *,
    marks: Sequence[Mark],
    high: float,
    value_format: Callable[[float], str] = lambda v: f"{v:.2%}",
) -> str:
    """A horizontal scale from 0 to ``high`` with zones between the marks and a pointer."""
    width, height, left, right = 320, 46, 8, 8
    span = width - left - right

    def sx(v: float) -> float:
        return left + min(max(v, 0.0), high) / high * span

    colours = ("#d9f2d9", "#fde9c8", "#f8d0d0")
    edges = [0.0, *[m.y for m in marks], high]
    body = []
    for index in range(len(edges) - 1):
        x0, x1 = sx(edges[index]), sx(edges[index + 1])
        body.append(
            f'<rect class="zone" x="{_num(x0)}" y="8" width="{_num(x1 - x0)}" height="14" '
            f'fill="{colours[min(index, len(colours) - 1)]}"/>'
        )
    for mark in marks:
        x = _num(sx(mark.y))
        body.append(
            f'<g class="mark"><line x1="{x}" y1="4" x2="{x}" y2="26" stroke="{escape(mark.colour)}" '
            f'stroke-width="1.5"/><text x="{x}" y="40" text-anchor="middle" font-size="11" '
            f'fill="{escape(mark.colour)}">{escape(mark.label)}</text></g>'
        )
    if value is not None:
        x = _num(sx(value))
        body.append(
            f'<g class="pointer"><polygon points="{x},24 {_num(sx(value) - 6)},34 '
            f'{_num(sx(value) + 6)},34" fill="#222"><title>{escape(value_format(value))}'
            "</title></polygon></g>"
        )
    return (
        f'<svg class="gauge" data-chart="{escape(name)}" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )
