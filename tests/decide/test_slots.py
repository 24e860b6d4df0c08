"""Slots as datetime64: exact, whatever the offset of the datetimes given."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from optimizer.decide.slots import as_datetime64, candidate_slots, candidate_slots64, slot_at


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


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2026, 10, 15, 17, 0, tzinfo=dt.UTC),  # on the hour
        dt.datetime(2026, 10, 15, 17, 59, 59, 999999, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 8, 1, 30, 0, 1, tzinfo=ZoneInfo("America/New_York")),  # DST day
        dt.datetime(2000, 1, 1, 0, 0, tzinfo=dt.UTC),
        dt.datetime(2099, 12, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
    ],
)
@pytest.mark.parametrize("horizon", [1, 2, 72, 336])
def test_numpy_slots_equal_the_datetime_slots(now: dt.datetime, horizon: int) -> None:
    slots = candidate_slots(now, horizon)
    fast = candidate_slots64(now, horizon)
    assert fast.dtype == np.dtype("datetime64[ns]")
    assert np.array_equal(fast, as_datetime64(slots))
    for index in (0, 1, horizon - 1):
        if index < horizon:
            assert slot_at(now, index) == slots[index]
            assert slot_at(now, index).tzinfo is dt.UTC
