"""Conversion rate and revenue per message broken down by segment, variant, local time, vertical.

A group is marked ``concentrate`` when the lower end of its 95% conversion-rate interval is above
the overall rate, ``drop`` when the upper end is below it (both only with enough sends), so the
advice follows the evidence rather than the noise of small groups.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from optimizer.reports.common import Jsonable, Period, safe_rate, wilson_interval
from optimizer.reports.health import DEFAULT_CONVERSION_DAYS, DEFAULT_RESPONSE_HOURS
from optimizer.reports.touches import (
    CONVERSION_TYPES,
    RESPONSE_TYPES,
    Credited,
    Send,
    credit_last_touch,
    load_outcomes,
    load_sends,
)
from optimizer.store.db import Session

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SEGMENT_ORDER = {"hot": 0, "warm": 1, "cold": 2}
UNKNOWN = "(none)"


@dataclass(frozen=True)
class GroupRow(Jsonable):
    key: str
    sends: int
    responses: int
    conversions: int
    revenue: float
    response_rate: float | None
    conversion_rate: float | None
    conversion_ci_low: float
    conversion_ci_high: float
    revenue_per_message: float | None
    advice: str  # concentrate | drop | "" (not enough evidence either way)


@dataclass(frozen=True)
class Breakdown(Jsonable):
    dimension: str  # segment | variant | local_hour | weekday | vertical
    title: str
    rows: tuple[GroupRow, ...]


@dataclass(frozen=True)
class SegmentsReport(Jsonable):
    period: Period
    sends: int
    conversion_rate: float | None
    revenue_per_message: float | None
    min_sends: int
    breakdowns: tuple[Breakdown, ...]
    advice: tuple[str, ...]


def _hour_key(send: Send) -> str | None:
    return None if send.local_hour is None else f"{send.local_hour:02d}:00"


def _weekday_key(send: Send) -> str | None:
    return None if send.local_weekday is None else WEEKDAYS[send.local_weekday]


_DIMENSIONS: tuple[tuple[str, str, Callable[[Send], str | None]], ...] = (
    ("segment", "Lead segment", lambda s: s.segment),
    ("variant", "Variant", lambda s: s.variant_label),
    ("local_hour", "Local send hour", _hour_key),
    ("weekday", "Local send weekday", _weekday_key),
    ("vertical", "Vertical", lambda s: s.vertical),
)


def _sort_key(dimension: str, key: str) -> tuple[int, str]:
    if dimension == "segment":
        return (SEGMENT_ORDER.get(key, 9), key)
    if dimension == "weekday" and key in WEEKDAYS:
        return (WEEKDAYS.index(key), key)
    return (0 if key != UNKNOWN else 1, key)


def _rows(
    dimension: str,
    sends: Sequence[Send],
    credited: Credited,
    key_of: Callable[[Send], str | None],
    overall: float | None,
    min_sends: int,
) -> tuple[GroupRow, ...]:
    groups: dict[str, list[Send]] = defaultdict(list)
    for send in sends:
        groups[key_of(send) or UNKNOWN].append(send)
    rows = []
    for key in sorted(groups, key=lambda k: _sort_key(dimension, k)):
        items = groups[key]
        n = len(items)
        conversions = sum(s.event_id in credited.converted for s in items)
        responses = sum(s.event_id in credited.responded for s in items)
        revenue = sum(credited.revenue.get(s.event_id, 0.0) for s in items)
        low, high = wilson_interval(conversions, n)
        advice = ""
        if overall is not None and n >= min_sends:
            if low > overall:
                advice = "concentrate"
            elif high < overall:
                advice = "drop"
        rows.append(
            GroupRow(
                key=key,
                sends=n,
                responses=responses,
                conversions=conversions,
                revenue=round(revenue, 2),
                response_rate=safe_rate(responses, n),
                conversion_rate=safe_rate(conversions, n),
                conversion_ci_low=low,
                conversion_ci_high=high,
                revenue_per_message=safe_rate(revenue, n),
                advice=advice,
            )
        )
    return tuple(rows)


def segment_breakdown(
    session: Session,
    *,
    period: Period,
    min_sends: int = 30,
    response_hours: int = DEFAULT_RESPONSE_HOURS,
    conversion_days: int = DEFAULT_CONVERSION_DAYS,
) -> SegmentsReport:
    """Per group: sends, responses, conversions (rate with 95% interval), revenue per message."""
    response_window = dt.timedelta(hours=response_hours)
    conversion_window = dt.timedelta(days=conversion_days)
    sends = [s for s in load_sends(session, until=period.end) if s.occurred_at >= period.start]
    outcomes = load_outcomes(
        session,
        start=period.start,
        end=period.end + max(response_window, conversion_window),
        types=RESPONSE_TYPES + CONVERSION_TYPES,
    )
    credited = credit_last_touch(
        sends, outcomes, response_window=response_window, conversion_window=conversion_window
    )
    total_conversions = len(credited.converted)
    total_revenue = sum(credited.revenue.values())
    overall = safe_rate(total_conversions, len(sends))
    breakdowns = tuple(
        Breakdown(
            dimension=dimension,
            title=title,
            rows=_rows(dimension, sends, credited, key_of, overall, min_sends),
        )
        for dimension, title, key_of in _DIMENSIONS
    )
    advice: list[str] = []
    for breakdown in breakdowns:
        for row in breakdown.rows:
            if row.advice == "concentrate":
                advice.append(
                    f"Concentrate on {breakdown.title.lower()} {row.key}: conversion "
                    f"{row.conversion_ci_low:.1%}–{row.conversion_ci_high:.1%} beats the "
                    f"overall {overall:.1%}."
                )
            elif row.advice == "drop":
                advice.append(
                    f"Consider dropping {breakdown.title.lower()} {row.key}: conversion "
                    f"{row.conversion_ci_low:.1%}–{row.conversion_ci_high:.1%} trails the "
                    f"overall {overall:.1%}."
                )
    return SegmentsReport(
        period=period,
        sends=len(sends),
        conversion_rate=overall,
        revenue_per_message=safe_rate(total_revenue, len(sends)),
        min_sends=min_sends,
        breakdowns=breakdowns,
        advice=tuple(advice),
    )
