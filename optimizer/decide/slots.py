"""Candidate send slots over the horizon, and local-time display."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np


def candidate_slots(now: dt.datetime, horizon_hours: int) -> list[dt.datetime]:
    """``now`` itself, then every following full hour, ``horizon_hours`` slots in all (UTC)."""
    now = now.astimezone(dt.UTC)
    next_hour = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return [now] + [next_hour + dt.timedelta(hours=i) for i in range(horizon_hours - 1)]


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_HOUR_US = 3_600_000_000


def slot_at(now: dt.datetime, index: int) -> dt.datetime:
    """``candidate_slots(now, h)[index]`` for any ``h > index``, without building the list."""
    now = now.astimezone(dt.UTC)
    if index == 0:
        return now
    return now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=index)


def candidate_slots64(now: dt.datetime, horizon_hours: int) -> np.ndarray:
    """``as_datetime64(candidate_slots(now, horizon_hours))``, computed in numpy (the single
    decision's path: one slot's datetime is made, with :func:`slot_at`, once it is chosen)."""
    micros = (now.astimezone(dt.UTC) - _EPOCH) // _MICROSECOND
    out = np.empty(horizon_hours, dtype=np.int64)
    if horizon_hours > 0:
        out[0] = micros
        first = (micros // _HOUR_US + 1) * _HOUR_US
        out[1:] = first + _HOUR_US * np.arange(horizon_hours - 1, dtype=np.int64)
    return out.astype("datetime64[us]").astype("datetime64[ns]")


def as_datetime64(slots: list[dt.datetime]) -> np.ndarray:
    """Aware datetimes as naive UTC ``datetime64[ns]`` (exact: whole microseconds since the
    epoch, without numpy parsing datetime objects one by one)."""
    micros = np.array([(s - _EPOCH) // _MICROSECOND for s in slots], dtype=np.int64)
    return micros.astype("datetime64[us]").astype("datetime64[ns]")


def pack_mask(mask: np.ndarray) -> str:
    """A boolean mask as hex of its little-endian bits (72 slots: 18 characters)."""
    return np.packbits(np.asarray(mask, dtype=bool), bitorder="little").tobytes().hex()


def unpack_mask(packed: str, length: int) -> np.ndarray:
    """:func:`pack_mask` undone: the first ``length`` bits as a boolean array. A string that is
    not hex, or too short for ``length``, raises ``ValueError``."""
    raw = np.frombuffer(bytes.fromhex(packed), dtype=np.uint8)
    if length < 0 or raw.size * 8 < length:
        raise ValueError(f"mask {packed!r} holds {raw.size * 8} bits, not {length}")
    return np.unpackbits(raw, bitorder="little")[:length].astype(bool)


def local_iso(at: dt.datetime | None, zone: str | None) -> str | None:
    if at is None or zone is None:
        return None
    return at.astimezone(ZoneInfo(zone)).isoformat()
