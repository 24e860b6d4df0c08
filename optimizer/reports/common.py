"""Shared pieces of the reports: the period, JSON conversion, intervals and reason codes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from optimizer.errors import InvalidInput

OPT_OUT_GOOD = 0.01  # an unsubscribe rate under 1% is healthy
OPT_OUT_BAD = 0.02  # above 2% signals a consent or targeting problem

QUIET_PREFIXES = ("quiet_hours", "banned_day")
FREQUENCY_PREFIXES = ("frequency",)
DNC_PREFIXES = ("dnc.",)

# The instants a report reads: far inside what ``datetime`` can represent, so that a period's end
# plus an attribution window or a week's start never overflows. Rows stored outside it (the
# ledger is append-only: a year-9999 event written before validation stays) are not counted.
READABLE_START = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
READABLE_END = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def to_jsonable(value: Any) -> Any:
    """Dataclasses, tuples, datetimes and non-finite floats made JSON-friendly."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Jsonable:
    """Mixin for frozen report dataclasses: ``to_dict()`` gives plain JSON types."""

    def to_dict(self) -> dict[str, Any]:
        result = to_jsonable(self)
        assert isinstance(result, dict)
        return result


@dataclass(frozen=True)
class Period(Jsonable):
    """A half-open UTC interval ``[start, end)``."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise InvalidInput(
                    f"{name} {value.isoformat()!r} has no time zone (aware UTC expected)",
                    field=name,
                )
        if self.end <= self.start:
            raise InvalidInput(
                f"period end {self.end.isoformat()} is not after start {self.start.isoformat()}"
                " (end > start expected)",
                field="end",
            )

    def contains(self, moment: dt.datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400.0


def safe_rate(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when there is nothing to divide by."""
    if denominator <= 0:
        return None
    return numerator / denominator


def wilson_interval(successes: float, trials: float, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion; (0, 1) without trials.

    >>> tuple(round(x, 3) for x in wilson_interval(10, 100))
    (0.055, 0.174)
    """
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def reason_codes(*groups: Any) -> tuple[str, ...]:
    """Every reason code found in decision ``reasons`` / ``compliance`` JSON values."""
    codes: list[str] = []
    for group in groups:
        if isinstance(group, Mapping):
            group = group.get("reasons", ())
        if not isinstance(group, Iterable) or isinstance(group, str | bytes):
            continue
        for item in group:
            code = item.get("code") if isinstance(item, Mapping) else item
            if isinstance(code, str) and code not in codes:
                codes.append(code)
    return tuple(codes)


def has_prefix(codes: Iterable[str], prefixes: tuple[str, ...]) -> bool:
    return any(code.startswith(prefixes) for code in codes)


def week_start(moment: dt.datetime) -> dt.date:
    """The Monday (UTC) of ``moment``'s ISO week."""
    day = moment.astimezone(dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())


PRESETS = {"7d": 7, "30d": 30, "90d": 90}


def resolve_period(
    span: Period | None,
    *,
    preset: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Period:
    """The period a page or JSON report asks for.

    Explicit ``start``/``end`` days (``end`` inclusive) win; otherwise a preset (``all``, ``7d``,
    ``30d``, ``90d``) counted back from the end of the data ``span`` (the store's last activity,
    so simulated data far from today still shows). An empty store gives the last day before
    ``end`` or the epoch day, never an error.
    """
    if preset not in (None, "", "all", *PRESETS):
        raise InvalidInput(
            f"period {preset!r} is unknown (expected all, {', '.join(PRESETS)} or start/end)",
            field="period",
        )
    for name, day in (("start", start), ("end", end)):
        if day is not None and not READABLE_START.date() <= day < READABLE_END.date():
            raise InvalidInput(
                f"{name} {day.isoformat()} is outside the readable range "
                f"{READABLE_START.date().isoformat()} … {READABLE_END.date().isoformat()}",
                field=name,
            )
    if start is not None or end is not None:
        last = span.end if span is not None else dt.datetime(1970, 1, 2, tzinfo=dt.UTC)
        end_at = (
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
            if end is not None
            else last
        )
        start_at = (
            dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
            if start is not None
            else end_at - dt.timedelta(days=30)
        )
        return Period(start=start_at, end=end_at)
    if span is None:
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return Period(start=epoch, end=epoch + dt.timedelta(days=1))
    if preset in PRESETS:
        return Period(start=span.end - dt.timedelta(days=PRESETS[preset]), end=span.end)
    return span
