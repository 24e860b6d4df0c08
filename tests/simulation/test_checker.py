from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.simulation.checker import BANNED_DAY, OK, QUIET_HOURS, ComplianceChecker
from optimizer.simulation.geography import ZoneClock, area_codes, candidate_zones

TABLE = area_codes()
CLOCK = ZoneClock(TABLE.zone_names)
CHECKER = ComplianceChecker(CLOCK)


def _status(phone: str, local: dt.datetime, zone: str) -> int:
    code = phone[2:5]
    area = np.array([TABLE.codes.index(code)])
    zones = candidate_zones(np.array([phone], dtype=object), area)
    t = int(local.replace(tzinfo=ZoneInfo(zone)).timestamp())
    return int(CHECKER.time_status(area, zones, np.array([t]))[0])


@pytest.mark.parametrize(
    ("phone", "local", "zone", "expected"),
    [
        (
            "+13055550142",
            dt.datetime(2026, 3, 4, 20, 30),
            "America/New_York",
            QUIET_HOURS,
        ),  # FL 8-20
        ("+13055550142", dt.datetime(2026, 3, 4, 19, 59), "America/New_York", OK),
        ("+13105550142", dt.datetime(2026, 3, 4, 20, 30), "America/Los_Angeles", OK),  # CA federal
        ("+13105550142", dt.datetime(2026, 3, 4, 21, 0), "America/Los_Angeles", QUIET_HOURS),
        ("+13105550142", dt.datetime(2026, 3, 4, 7, 59), "America/Los_Angeles", QUIET_HOURS),
        (
            "+12145550142",
            dt.datetime(2026, 3, 8, 10, 0),
            "America/Chicago",
            QUIET_HOURS,
        ),  # TX Sun 12-21
        ("+12145550142", dt.datetime(2026, 3, 8, 12, 0), "America/Chicago", OK),
        ("+12145550142", dt.datetime(2026, 3, 4, 8, 30), "America/Chicago", QUIET_HOURS),  # TX 9-21
        (
            "+12055550142",
            dt.datetime(2026, 3, 8, 12, 0),
            "America/Chicago",
            BANNED_DAY,
        ),  # AL Sunday
        (
            "+12055550142",
            dt.datetime(2026, 7, 3, 12, 0),
            "America/Chicago",
            BANNED_DAY,
        ),  # AL holiday
        ("+12055550142", dt.datetime(2026, 3, 4, 12, 0), "America/Chicago", OK),
        (
            "+14055550142",
            dt.datetime(2026, 3, 4, 20, 15),
            "America/Chicago",
            QUIET_HOURS,
        ),  # OK 8-20
        ("+14105550142", dt.datetime(2026, 3, 4, 20, 15), "America/New_York", QUIET_HOURS),  # MD
        ("+12065550142", dt.datetime(2026, 3, 4, 20, 15), "America/Los_Angeles", QUIET_HOURS),  # WA
        (
            "+12035550142",
            dt.datetime(2026, 3, 4, 8, 30),
            "America/New_York",
            QUIET_HOURS,
        ),  # CT 9-20
        (
            "+16015550142",
            dt.datetime(2026, 3, 8, 12, 0),
            "America/Chicago",
            BANNED_DAY,
        ),  # MS Sunday
        # 850 spans Central and Eastern: 19:30 Central is 20:30 Eastern, past Florida's 20:00.
        ("+18502345678", dt.datetime(2026, 3, 4, 19, 30), "America/Chicago", QUIET_HOURS),
        ("+18502345678", dt.datetime(2026, 3, 4, 8, 30), "America/New_York", QUIET_HOURS),
        ("+18502345678", dt.datetime(2026, 3, 4, 12, 0), "America/New_York", OK),
        # 208 spans Mountain and Pacific: 08:30 Pacific is fine, 07:30 Pacific is not.
        ("+12082345678", dt.datetime(2026, 3, 4, 7, 30), "America/Los_Angeles", QUIET_HOURS),
        ("+12082345678", dt.datetime(2026, 3, 4, 20, 30), "America/Boise", OK),
        ("+12082345678", dt.datetime(2026, 3, 4, 20, 30), "America/Los_Angeles", QUIET_HOURS),
    ],
)
def test_known_cases(phone: str, local: dt.datetime, zone: str, expected: int) -> None:
    assert _status(phone, local, zone) == expected


@settings(max_examples=80, deadline=None)
@given(
    code=st.integers(0, len(TABLE.codes) - 1),
    t=st.integers(
        int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()),
        int(dt.datetime(2026, 12, 31, tzinfo=dt.UTC).timestamp()),
    ),
)
def test_never_legal_outside_the_federal_window_in_any_candidate_zone(code: int, t: int) -> None:
    area = np.array([code])
    zones = TABLE.zone_index[area]
    status = CHECKER.time_status(area, zones, np.array([t]))[0]
    if status == OK:
        for z in zones[0][zones[0] >= 0]:
            local = dt.datetime.fromtimestamp(t, ZoneInfo(TABLE.zone_names[z]))
            assert 8 <= local.hour < 21


def test_next_legal_is_legal_and_not_earlier() -> None:
    rng = np.random.default_rng(1)
    area = rng.integers(0, len(TABLE.codes), size=300)
    zones = TABLE.zone_index[area]
    t = rng.integers(
        int(dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()),
        int(dt.datetime(2026, 4, 1, tzinfo=dt.UTC).timestamp()),
        size=300,
    )
    nxt = CHECKER.next_legal(area, zones, t)
    assert np.all(nxt >= t)
    assert np.all(CHECKER.time_status(area, zones, nxt) == OK)
