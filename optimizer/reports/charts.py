"""The charts of each page, built from the reports (pure: report in, SVG strings out)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from optimizer.reports.attribution import AttributionReport
from optimizer.reports.common import OPT_OUT_BAD, OPT_OUT_GOOD
from optimizer.reports.experiment_stats import BINARY_METRICS
from optimizer.reports.experiments import DailySeries, ExperimentReport
from optimizer.reports.health import HealthReport
from optimizer.reports.segments import SegmentsReport
from optimizer.reports.svg import Bar, ChartSeries, Mark, bar_chart, gauge, line_chart


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    svg: str


def _day(x: float) -> str:
    return dt.date.fromordinal(int(round(x))).strftime("%b %d")


def _pct(value: float) -> str:
    return f"{value:.1%}" if abs(value) < 0.1 else f"{value:.0%}"


def _daily(series: Sequence[DailySeries]) -> list[ChartSeries]:
    return [
        ChartSeries(
            name=s.name,
            points=tuple(
                (float(d.toordinal()), float(v)) for d, v in zip(s.days, s.values, strict=True)
            ),
        )
        for s in series
    ]


def experiment_charts(report: ExperimentReport) -> tuple[Chart, ...]:
    binary = report.metric in BINARY_METRICS
    posterior_title = (
        f"Posterior of the {report.metric} rate per variant"
        if binary
        else "Posterior of revenue per message per variant"
    )
    posterior = line_chart(
        "posterior",
        posterior_title,
        [
            ChartSeries(name=s.name, points=tuple(zip(s.xs, s.ys, strict=True)))
            for s in report.posterior
        ],
        x_format=_pct if binary else (lambda x: f"${x:,.2f}"),
        y_format=lambda y: f"{y:.0f}",
        y_min=0.0,
        fill=True,
        round_x_ticks=True,
    )
    traffic = line_chart(
        "traffic",
        "Share of traffic per variant per day (how the bandit moved it)",
        _daily(report.traffic_share),
        x_format=_day,
        y_format=lambda y: f"{y:.0%}",
        y_min=0.0,
        y_max=1.0,
    )
    unit = "responses" if binary else "revenue ($)"
    cumulative = line_chart(
        "cumulative",
        f"Cumulative {unit} per variant",
        _daily(report.cumulative_successes),
        x_format=_day,
        y_format=lambda y: f"{y:,.0f}",
        y_min=0.0,
    )
    return (
        Chart("posterior", posterior_title, posterior),
        Chart("traffic", "Traffic share over time", traffic),
        Chart("cumulative", f"Cumulative {unit}", cumulative),
    )


def health_charts(report: HealthReport) -> tuple[Chart, ...]:
    weeks = [float(w.week_start.toordinal()) for w in report.weeks]

    def series(name: str, attribute: str) -> ChartSeries:
        points = []
        for x, week in zip(weeks, report.weeks, strict=True):
            value = getattr(week.figures, attribute)
            if value is not None:
                points.append((x, float(value)))
        return ChartSeries(name=name, points=tuple(points))

    rates = line_chart(
        "rates_trend",
        "Response, contact and conversion rate per week",
        [
            series("response rate", "response_rate"),
            series("contact rate", "contact_rate"),
            series("conversion rate", "conversion_rate"),
        ],
        x_format=_day,
        y_format=_pct,
        y_min=0.0,
    )
    opt_outs = line_chart(
        "opt_out_trend",
        "Opt-out rate per week (under 1% good, above 2% a problem)",
        [series("opt-out rate", "opt_out_rate")],
        x_format=_day,
        y_format=_pct,
        y_min=0.0,
        marks=(
            Mark(OPT_OUT_GOOD, "1% good below", "#2ca02c"),
            Mark(OPT_OUT_BAD, "2% problem above", "#d62728"),
        ),
    )
    revenue = line_chart(
        "revenue_trend",
        "Revenue per message per week",
        [series("revenue per message", "revenue_per_message")],
        x_format=_day,
        y_format=lambda y: f"${y:,.2f}",
        y_min=0.0,
    )
    return (
        Chart("rates_trend", "Rates per week", rates),
        Chart("opt_out_trend", "Opt-out rate per week", opt_outs),
        Chart("revenue_trend", "Revenue per message per week", revenue),
    )


def opt_out_gauge(report: HealthReport) -> Chart:
    """Where the period's opt-out rate sits against the 1% / 2% marks."""
    rate = report.figures.opt_out_rate
    title = "Opt-out rate against the 1% and 2% marks"
    svg = gauge(
        "opt_out_gauge",
        title,
        rate,
        marks=(Mark(OPT_OUT_GOOD, "1%", "#2ca02c"), Mark(OPT_OUT_BAD, "2%", "#d62728")),
        high=max(0.03, (rate or 0.0) * 1.1),
    )
    return Chart("opt_out_gauge", title, svg)


def segment_charts(report: SegmentsReport) -> dict[str, Chart]:
    """One conversion-rate bar chart per breakdown, keyed by dimension."""
    charts = {}
    for breakdown in report.breakdowns:
        bars = [Bar(r.key, r.conversion_rate or 0.0) for r in breakdown.rows]
        title = f"Conversion rate by {breakdown.title.lower()}"
        charts[breakdown.dimension] = Chart(
            f"segment_{breakdown.dimension}",
            title,
            bar_chart(
                f"segment_{breakdown.dimension}",
                title,
                bars,
                value_format=lambda v: f"{v:.1%}",
                reference=report.conversion_rate,
            ),
        )
    return charts


def attribution_charts(report: AttributionReport) -> tuple[Chart, ...]:
    charts = []
    for name, title, rows in (
        ("attribution_variant", "Revenue credited per variant (linear)", report.by_variant),
        ("attribution_position", "Revenue credited per touch (linear)", report.by_position),
    ):
        bars = [Bar(r.key, r.linear.revenue) for r in rows]
        charts.append(
            Chart(name, title, bar_chart(name, title, bars, value_format=lambda v: f"${v:,.0f}"))
        )
    return tuple(charts)
