"""Slots as datetime64: exact, whatever the offset of the datetimes given."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from optimizer.decide.slots import as_datetime64, candidate_slots


def test_as_datetime64_is_naive_utc_to_the_microsecond() -> None:
    new_york = ZoneInfo("America/New_York")
    slots = [
        dt.datetime(2026, 10, 15, 13, 3, 7, 123456, tzinfo=new_york),
        dt.datetime(2026, 11, 1, 1, 30, tzinfo=new_york),  # the DST fall-back hour (first fold)
        dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=new_york),
        dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        *candidate_slots(dt.datetime(2026, 3, 8, 6, 59, 59, 1, tzinfo=dt.UTC), 6),
    ]
    got = as_datetime64(slots)
    expected = np.array(
        [np.datetime64(s.astimezone(dt.UTC).replace(tzinfo=None), "ns") for s in slots]
    )
    assert got.dtype == np.dtype("datetime64[ns]")
    assert got.tolist() == expected.tolist()
    assert str(got[2]) == "2026-11-01T06:30:00.000000000"
