"""Where simulated leads live: real US area codes, their states and candidate time zones.

``area_codes.csv`` lists every US geographic area code with its state, its candidate IANA zones
(written out here, independently of ``optimizer.phones``, so that the simulator's compliance
checker can catch a wrong zone in the gate) and a weight = state population / area codes in the
state, so states occur roughly in proportion to their population.

Times are int64 seconds since the Unix epoch (UTC) throughout the simulator.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

import numpy as np
import phonenumbers
from phonenumbers import timezone

HOUR = 3600
DAY = 86400
WEEK_HOURS = 168
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


@dataclass(frozen=True)
class AreaCodes:
    """The area-code table as arrays (index i is one area code)."""

    codes: tuple[str, ...]
    states: tuple[str, ...]
    zones: tuple[tuple[str, ...], ...]
    weights: np.ndarray  # float64, sums to 1
    zone_names: tuple[str, ...]  # every distinct zone
    zone_index: np.ndarray  # (n_codes, max zones) int, -1 = no further candidate zone


@lru_cache(maxsize=1)
def area_codes() -> AreaCodes:
    text = resources.files("optimizer.simulation").joinpath("area_codes.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    zones = tuple(tuple(row["time_zones"].split(";")) for row in rows)
    zone_names = tuple(sorted({z for zs in zones for z in zs}))
    lookup = {name: i for i, name in enumerate(zone_names)}
    width = max(len(zs) for zs in zones)
    index = np.full((len(rows), width), -1, dtype=np.int64)
    for i, zs in enumerate(zones):
        for j, z in enumerate(zs):
            index[i, j] = lookup[z]
    weights = np.array([float(row["weight"]) for row in rows])
    return AreaCodes(
        codes=tuple(row["area_code"] for row in rows),
        states=tuple(row["state"] for row in rows),
        zones=zones,
        weights=weights / weights.sum(),
        zone_names=zone_names,
        zone_index=index,
    )


def generate_phones(rng: np.random.Generator, area_idx: np.ndarray) -> np.ndarray:
    """Valid-looking E.164 numbers in the given area codes (exchange 2xx-9xx, never 555/N11)."""
    table = area_codes()
    n = len(area_idx)
    exchange = rng.integers(200, 1000, size=n)
    bad = (exchange == 555) | (exchange % 100 == 11)
    exchange = np.where(bad, exchange + 1, exchange)
    line = rng.integers(0, 10000, size=n)
    codes = np.array(table.codes)[area_idx]
    return np.array(
        [f"+1{c}{e:03d}{s:04d}" for c, e, s in zip(codes, exchange, line, strict=True)],
        dtype=object,
    )


# Area codes that span two zones where phonenumbers names only one (written out here, apart
# from optimizer.phones, so the checker does not share a mistake with the gate).
SPLIT_ZONES = {
    "850": ("America/Chicago", "America/New_York"),
    "448": ("America/Chicago", "America/New_York"),
    "208": ("America/Boise", "America/Los_Angeles"),
    "986": ("America/Boise", "America/Los_Angeles"),
}


def candidate_zones(phones: np.ndarray, area_idx: np.ndarray) -> np.ndarray:
    """(n, width) zone indices every number may be in (-1 pads), per number where it matters."""
    table = area_codes()
    out = table.zone_index[area_idx].copy()
    multi = (out >= 0).sum(axis=1) > 1
    lookup = {name: i for i, name in enumerate(table.zone_names)}
    cache: dict[str, list[int]] = {}
    for row in np.nonzero(multi)[0]:
        prefix = str(phones[row])[:8]
        if prefix not in cache:
            number = phonenumbers.parse(str(phones[row]))
            names = list(timezone.time_zones_for_number(number))
            names += list(SPLIT_ZONES.get(prefix[2:5], ()))
            ids = sorted({lookup[n] for n in names if n in lookup})
            cache[prefix] = ids or [z for z in out[row] if z >= 0]
        ids = cache[prefix]
        out[row] = -1
        out[row, : len(ids)] = ids
    return out


class ZoneClock:
    """UTC offsets of a few zones on an hourly grid, so local times are computed in bulk."""

    def __init__(self, zone_names: tuple[str, ...]) -> None:
        self.zone_names = zone_names
        self._start_hour = 0
        self._offsets = np.zeros((len(zone_names), 0), dtype=np.int64)

    def _ensure(self, lo_hour: int, hi_hour: int) -> None:
        have_lo = self._start_hour
        have_hi = self._start_hour + self._offsets.shape[1]
        if self._offsets.shape[1] and lo_hour >= have_lo and hi_hour < have_hi:
            return
        lo = min(lo_hour, have_lo) if self._offsets.shape[1] else lo_hour
        hi = max(hi_hour + 1, have_hi) if self._offsets.shape[1] else hi_hour + 1
        lo -= 24 * 7
        hi += 24 * 7
        hours = np.arange(lo, hi, dtype=np.int64)
        table = np.zeros((len(self.zone_names), len(hours)), dtype=np.int64)
        for z, name in enumerate(self.zone_names):
            zone = ZoneInfo(name)
            # Offsets change only at transitions: sample daily, then refine the changing days.
            daily = hours[::24]
            offs = np.array(
                [_offset(zone, int(h)) for h in daily],
                dtype=np.int64,
            )
            row = np.repeat(offs, 24)[: len(hours)]
            change = np.nonzero(np.diff(offs))[0]
            for d in change:
                for k in range(int(d) * 24, min((int(d) + 2) * 24, len(hours))):
                    row[k] = _offset(zone, int(hours[k]))
            table[z] = row
        self._start_hour = int(lo)
        self._offsets = table

    def offsets(self, zone_idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        """UTC offset in seconds of zone ``zone_idx`` at epoch second ``t`` (broadcast)."""
        t = np.asarray(t, dtype=np.int64)
        zone_idx = np.asarray(zone_idx, dtype=np.int64)
        if t.size == 0:
            return np.zeros(np.broadcast(zone_idx, t).shape, dtype=np.int64)
        hours = t // HOUR
        self._ensure(int(hours.min()), int(hours.max()))
        return self._offsets[zone_idx, hours - self._start_hour]

    def local(self, zone_idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Local wall-clock seconds since the epoch (the same instant seen in the zone)."""
        return np.asarray(t, dtype=np.int64) + self.offsets(zone_idx, t)


def _offset(zone: ZoneInfo, hour: int) -> int:
    instant = dt.datetime.fromtimestamp(hour * HOUR, tz=dt.UTC).astimezone(zone)
    offset = instant.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def hour_of_week(local_seconds: np.ndarray) -> np.ndarray:
    """Monday 00:00 = 0 ... Sunday 23:00 = 167, from local wall-clock seconds."""
    days = np.floor_divide(local_seconds, DAY)
    weekday = (days + _EPOCH_WEEKDAY) % 7
    hour = np.floor_divide(np.mod(local_seconds, DAY), HOUR)
    return (weekday * 24 + hour).astype(np.int64)


def local_day(local_seconds: np.ndarray) -> np.ndarray:
    return np.floor_divide(local_seconds, DAY).astype(np.int64)


def to_epoch(value: dt.datetime) -> int:
    if value.tzinfo is None:
        raise ValueError(f"datetime {value!r} has no time zone (aware UTC expected)")
    return int(value.timestamp())


def from_epoch(seconds: int | np.integer) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(seconds), tz=dt.UTC)
