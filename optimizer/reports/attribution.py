"""Conversions and revenue credited to messages: first touch, last touch and linear multi-touch.

For every conversion in the period, the touches are the lead's sends in the lookback window
before it (default 14 days). First touch gives all the credit to the oldest of them, last touch
to the newest, linear splits it evenly. Credit is summed per experiment variant and per message
position in the lead's sequence (touch 1, 2, 3...); conversions without any touch in the window
are reported as unattributed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from optimizer.reports.common import Jsonable, Period, safe_rate
from optimizer.reports.health import DEFAULT_CONVERSION_DAYS
from optimizer.reports.touches import (
    CONVERSION_TYPES,
    Send,
    SendIndex,
    load_outcomes,
    load_sends,
)
from optimizer.store.db import Session

MODELS = ("first", "last", "linear")
NO_VARIANT = "(no experiment)"


@dataclass(frozen=True)
class Credit(Jsonable):
    conversions: float
    revenue: float


@dataclass(frozen=True)
class AttributionRow(Jsonable):
    key: str
    sends: int  # sends in the period with this key
    first: Credit
    last: Credit
    linear: Credit
    revenue_per_message: float | None  # linear revenue / sends


@dataclass(frozen=True)
class AttributionReport(Jsonable):
    period: Period
    lookback_days: int
    conversions: int
    revenue: float
    unattributed_conversions: int
    unattributed_revenue: float
    by_variant: tuple[AttributionRow, ...]
    by_position: tuple[AttributionRow, ...]


def credit_weights(touches: int) -> dict[str, tuple[float, ...]]:
    """The share of one conversion each touch gets under each model.

    >>> credit_weights(3)["linear"]
    (0.3333333333333333, 0.3333333333333333, 0.3333333333333333)
    """
    if touches <= 0:
        return {model: () for model in MODELS}
    zeros = [0.0] * touches
    first = list(zeros)
    first[0] = 1.0
    last = list(zeros)
    last[-1] = 1.0
    return {"first": tuple(first), "last": tuple(last), "linear": tuple([1.0 / touches] * touches)}


def _position_key(send: Send) -> str:
    return f"touch {send.position}"


def _rows(
    keys: Callable[[Send], str],
    period_sends: Sequence[Send],
    credit: dict[str, dict[str, list[float]]],
    order: Callable[[str], tuple[int, str]],
) -> tuple[AttributionRow, ...]:
    sends_per_key: dict[str, int] = defaultdict(int)
    for send in period_sends:
        sends_per_key[keys(send)] += 1
    all_keys = set(sends_per_key) | set(credit)
    rows = []
    for key in sorted(all_keys, key=order):
        sums = credit.get(key, {})

        def pair(model: str, sums: dict[str, list[float]] = sums) -> Credit:
            conversions, revenue = sums.get(model, [0.0, 0.0])
            return Credit(conversions=round(conversions, 6), revenue=round(revenue, 2))

        linear = pair("linear")
        rows.append(
            AttributionRow(
                key=key,
                sends=sends_per_key.get(key, 0),
                first=pair("first"),
                last=pair("last"),
                linear=linear,
                revenue_per_message=safe_rate(linear.revenue, sends_per_key.get(key, 0)),
            )
        )
    return tuple(rows)


def _position_order(key: str) -> tuple[int, str]:
    number = key.removeprefix("touch ")
    return (int(number), key) if number.isdigit() else (10**9, key)


def _variant_order(key: str) -> tuple[int, str]:
    return (1 if key == NO_VARIANT else 0, key)


def attribution(
    session: Session, *, period: Period, lookback_days: int = DEFAULT_CONVERSION_DAYS
) -> AttributionReport:
    """Credit for the period's conversions under first-touch, last-touch and linear models."""
    lookback = dt.timedelta(days=lookback_days)
    sends = load_sends(session, until=period.end, local_time=False)
    index = SendIndex(sends)
    conversions = load_outcomes(session, start=period.start, end=period.end, types=CONVERSION_TYPES)
    by_variant: dict[str, dict[str, list[float]]] = defaultdict(dict)
    by_position: dict[str, dict[str, list[float]]] = defaultdict(dict)
    unattributed = 0
    unattributed_revenue = 0.0

    def variant_key(send: Send) -> str:
        return send.variant_label or NO_VARIANT

    for conversion in conversions:
        touches = index.within(conversion.lead_id, conversion.occurred_at, lookback)
        if not touches:
            unattributed += 1
            unattributed_revenue += conversion.value
            continue
        for model, weights in credit_weights(len(touches)).items():
            for send, weight in zip(touches, weights, strict=True):
                if weight == 0.0:
                    continue
                for table, key in (
                    (by_variant, variant_key(send)),
                    (by_position, _position_key(send)),
                ):
                    sums = table[key].setdefault(model, [0.0, 0.0])
                    sums[0] += weight
                    sums[1] += weight * conversion.value
    period_sends = [s for s in sends if s.occurred_at >= period.start]
    return AttributionReport(
        period=period,
        lookback_days=lookback_days,
        conversions=len(conversions),
        revenue=round(sum(c.value for c in conversions), 2),
        unattributed_conversions=unattributed,
        unattributed_revenue=round(unattributed_revenue, 2),
        by_variant=_rows(variant_key, period_sends, by_variant, _variant_order),
        by_position=_rows(_position_key, period_sends, by_position, _position_order),
    )
