"""Vectorised UTC -> local time for IANA zones, DST included.

``zoneinfo`` answers one instant at a time; the gate needs 72 (or a thousand) at once. Each zone's
UTC-offset transitions are found once per year (sampled every 6 hours, then bisected to the
second) and cached; an offset lookup is then one ``numpy.searchsorted``.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

NS = 1_000_000_000
DAY_S = 86_400
_STEP_S = 6 * 3600


class UnknownZone(ValueError):
    """An IANA zone name that this system does not know."""


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise UnknownZone(
            f"time zone {name!r} is unknown (an IANA name such as America/Chicago expected)"
        ) from exc


def _offset_s(tz: ZoneInfo, epoch_s: int) -> int:
    offset = dt.datetime.fromtimestamp(epoch_s, tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@dataclass(frozen=True, slots=True)
class OffsetTable:
    starts_s: np.ndarray  # epoch seconds at which each offset starts (first = -inf sentinel)
    offsets_s: np.ndarray
    starts: tuple[int, ...]  # the same as Python ints, for a cheap bisect of a range's ends
    offsets: tuple[int, ...]


@lru_cache(maxsize=2048)
def _year_transitions(name: str, year: int) -> tuple[tuple[int, int], ...]:
    """(instant, new offset) for every offset change in ``year`` (UTC), to the second."""
    tz = zone(name)
    start = int(dt.datetime(year, 1, 1, tzinfo=dt.UTC).timestamp())
    end = int(dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC).timestamp())
    changes: list[tuple[int, int]] = []
    prev_t, prev_off = start, _offset_s(tz, start)
    t = start
    while t < end:
        t = min(t + _STEP_S, end)
        off = _offset_s(tz, t)
        if off != prev_off:
            lo, hi = prev_t, t  # offset(lo) == prev_off, offset(hi) == off
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_s(tz, mid) == prev_off:
                    lo = mid
                else:
                    hi = mid
            changes.append((hi, off))
        prev_t, prev_off = t, off
    return tuple(changes)


@lru_cache(maxsize=2048)
def offset_table(name: str, first_year: int, last_year: int) -> OffsetTable:
    tz = zone(name)
    start = int(dt.datetime(first_year, 1, 1, tzinfo=dt.UTC).timestamp())
    starts = [np.iinfo(np.int64).min]
    offsets = [_offset_s(tz, start)]
    for year in range(first_year, last_year + 1):
        for instant, off in _year_transitions(name, year):
            starts.append(instant)
            offsets.append(off)
    return OffsetTable(
        np.array(starts, dtype=np.int64),
        np.array(offsets, dtype=np.int64),
        tuple(starts),
        tuple(offsets),
    )


def year_of(epoch_s: int) -> int:
    return 1970 + int(epoch_s // (365.2425 * DAY_S))


@dataclass(frozen=True, slots=True)
class LocalFields:
    """Local calendar fields of many instants in one zone."""

    day: np.ndarray  # local date as days since 1970-01-01
    weekday: np.ndarray  # Monday=0 ... Sunday=6
    second_of_day: np.ndarray


def local_fields(
    name: str, epoch_s: np.ndarray, lo: int | None = None, hi: int | None = None
) -> LocalFields:
    """Local day, weekday and second-of-day of ``epoch_s`` (int64 UTC seconds) in zone ``name``.
    ``lo``/``hi`` (the smallest and largest instant) may be passed to save two reductions."""
    if epoch_s.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return LocalFields(empty, empty, empty)
    if lo is None or hi is None:
        lo, hi = int(epoch_s.min()), int(epoch_s.max())
    # A year of margin either side keeps the estimate of the year safe.
    table = offset_table(name, year_of(lo) - 1, year_of(hi) + 1)
    first = bisect.bisect_right(table.starts, lo) - 1
    if first == bisect.bisect_right(table.starts, hi) - 1:
        local = epoch_s + table.offsets[first]  # no transition in range: one offset
    else:
        index = np.searchsorted(table.starts_s, epoch_s, side="right") - 1
        local = epoch_s + table.offsets_s[index]
    day, second_of_day = np.divmod(local, DAY_S)
    # 1970-01-01 was a Thursday (Monday=0 -> Thursday=3).
    return LocalFields(day=day, weekday=(day + 3) % 7, second_of_day=second_of_day)
