"""Table-driven cases for every state row of the rules table, split zones, DST and caps.

The expected values are written out here, independently of rules.json, so a wrong edit of the
table fails these tests.
"""

from __future__ import annotations

import datetime as dt

import pytest

from optimizer.compliance import evaluate, load_rules
from tests.compliance.factories import ctx, local

# state: (phone, zone, Mon-Fri, Sat, Sun window or None when Sundays are banned,
#         holidays banned, per-24h cap)
STATES = {
    "FL": ("+13055550142", "America/New_York", (8, 20), (8, 20), (8, 20), False, 3),
    "OK": ("+14055550142", "America/Chicago", (8, 20), (8, 20), (8, 20), False, 3),
    "MD": ("+14105550142", "America/New_York", (8, 20), (8, 20), (8, 20), False, 3),
    "WA": ("+12065550142", "America/Los_Angeles", (8, 20), (8, 20), (8, 20), False, None),
    "TX": ("+12145550142", "America/Chicago", (9, 21), (9, 21), (12, 21), False, None),
    "CT": ("+12035550142", "America/New_York", (9, 20), (9, 20), (9, 20), False, None),
    "AL": ("+12055550142", "America/Chicago", (8, 20), (8, 20), None, True, None),
    "LA": ("+15045550142", "America/Chicago", (8, 20), (8, 20), None, True, None),
    "MS": ("+16015550142", "America/Chicago", (8, 20), (8, 20), None, False, None),
    "UT": ("+18015550142", "America/Denver", (8, 21), (8, 21), None, True, None),
    "VA": ("+18045550142", "America/New_York", (8, 21), (8, 21), (8, 21), False, None),
    "NJ": ("+12015550142", "America/New_York", (8, 21), (8, 21), (8, 21), False, None),
    "AZ": ("+16025550142", "America/Phoenix", (8, 21), (8, 21), (8, 21), False, None),
    "RI": ("+14015550142", "America/New_York", (9, 18), (10, 17), None, True, None),
    "KY": ("+15025550142", "America/New_York", (10, 21), (10, 21), (10, 21), False, None),
}
TUESDAY = (2026, 12, 1)
SATURDAY = (2026, 12, 5)
SUNDAY = (2026, 12, 6)
CHRISTMAS = (2026, 12, 25)  # a Friday


def test_every_state_row_of_the_rules_table_is_covered() -> None:
    assert set(load_rules().states) == set(STATES)


def _edges(window: tuple[int, int]) -> list[tuple[int, int, bool]]:
    start, end = window
    return [(start - 1, 59, False), (start, 0, True), (end - 1, 59, True), (end, 0, False)]


WINDOW_CASES = [
    (state, day_name)
    for state, row in sorted(STATES.items())
    for day_name, window in zip(("weekday", "saturday", "sunday"), row[2:5], strict=True)
    if window is not None  # banned Sundays are tested below
]


@pytest.mark.parametrize(("state", "day_name"), WINDOW_CASES)
def test_window_edges(state: str, day_name: str) -> None:
    phone, zone, weekday, saturday, sunday, _, _ = STATES[state]
    window = {"weekday": weekday, "saturday": saturday, "sunday": sunday}[day_name]
    day = {"weekday": TUESDAY, "saturday": SATURDAY, "sunday": SUNDAY}[day_name]
    assert window is not None
    for hour, minute, expected in _edges(window):
        verdict = evaluate(ctx(phone, local(zone, *day, hour, minute)))
        assert verdict.allowed is expected, (state, day_name, hour, minute, verdict.codes)
        if not expected:
            assert (
                f"quiet_hours.state.{state}" in verdict.codes
                or "quiet_hours.federal" in verdict.codes
            )
            assert verdict.next_allowed_at is not None
            assert evaluate(ctx(phone, verdict.next_allowed_at)).allowed


@pytest.mark.parametrize("state", sorted(s for s, row in STATES.items() if row[4] is None))
def test_banned_sundays(state: str) -> None:
    phone, zone, weekday, *_ = STATES[state]
    noon = local(zone, *SUNDAY, 13, 0)
    consents = () if state == "UT" else ctx(phone, noon).consents
    verdict = evaluate(ctx(phone, noon, consents=consents))
    assert not verdict.allowed
    assert f"banned_day.state.{state}" in verdict.codes
    if state == "UT":
        # Utah bans Sundays only without prior express consent.
        assert evaluate(ctx(phone, noon)).allowed
    else:
        expected = local(zone, 2026, 12, 7, weekday[0], 0)
        assert verdict.next_allowed_at == expected


@pytest.mark.parametrize("state", sorted(STATES))
def test_holidays(state: str) -> None:
    phone, zone, weekday, *_, holidays_banned, _ = STATES[state]
    noon = local(zone, *CHRISTMAS, 13, 0)
    verdict = evaluate(ctx(phone, noon, consents=()))
    assert (f"banned_day.state.{state}" in verdict.codes) is holidays_banned
    if holidays_banned and state != "UT":
        verdict = evaluate(ctx(phone, noon))
        assert not verdict.allowed
        # Dec 26 2026 is a Saturday.
        assert verdict.next_allowed_at == local(zone, 2026, 12, 26, STATES[state][3][0], 0)


@pytest.mark.parametrize("state", sorted(s for s, row in STATES.items() if row[6]))
def test_three_per_24h_cap_and_next_allowed(state: str) -> None:
    phone, zone, *_ = STATES[state]
    sends = (
        local(zone, *TUESDAY, 18, 0),
        local(zone, *TUESDAY, 19, 0),
        local(zone, *TUESDAY, 19, 30),
    )
    verdict = evaluate(ctx(phone, local(zone, *TUESDAY, 19, 45), prior_sends=sends))
    assert verdict.codes == (f"frequency.state_24h.{state}",)
    # third-most-recent send + 24 h, inside the window
    assert verdict.next_allowed_at == local(zone, 2026, 12, 2, 18, 0)
    two = evaluate(ctx(phone, local(zone, *TUESDAY, 19, 45), prior_sends=sends[1:]))
    assert two.allowed


def test_cap_expiry_outside_window_waits_for_the_window() -> None:
    phone, zone, *_ = STATES["OK"]
    late = (
        local(zone, *TUESDAY, 20, 30),
        local(zone, *TUESDAY, 20, 40),
        local(zone, *TUESDAY, 20, 50),
    )
    verdict = evaluate(ctx(phone, local(zone, 2026, 12, 2, 10, 0), prior_sends=late))
    assert verdict.codes == ("frequency.state_24h.OK",)
    assert verdict.next_allowed_at == local(zone, 2026, 12, 3, 8, 0)


def test_split_zone_area_code_needs_both_zones_open() -> None:
    # 850: Pensacola (Central) and Tallahassee (Eastern).
    early = evaluate(ctx("+18505550142", local("America/New_York", *TUESDAY, 8, 30)))
    assert not early.allowed
    assert "quiet_hours.state.FL" in early.codes
    assert early.next_allowed_at == local("America/Chicago", *TUESDAY, 8, 0)
    late = evaluate(ctx("+18505550142", local("America/Chicago", *TUESDAY, 19, 30)))
    assert not late.allowed  # 20:30 in Tallahassee
    assert evaluate(ctx("+18505550142", local("America/Chicago", *TUESDAY, 12, 0))).allowed


@pytest.mark.parametrize("phone", ["+12085550142", "+19865550142"])
def test_idaho_split_zone(phone: str) -> None:
    verdict = evaluate(ctx(phone, local("America/Boise", *TUESDAY, 8, 30)))
    assert not verdict.allowed  # 07:30 in Coeur d'Alene (Pacific)
    assert verdict.next_allowed_at == local("America/Los_Angeles", *TUESDAY, 8, 0)


def test_address_state_adds_its_rules_and_zones() -> None:
    # A New York number whose lead lives in Texas: Texas's Sunday noon rule applies in both of
    # Texas's zones (Central and Mountain, El Paso), so noon Mountain is the first allowed time.
    sunday = local("America/New_York", *SUNDAY, 11, 30)
    assert evaluate(ctx("+12125550142", sunday)).allowed
    verdict = evaluate(ctx("+12125550142", sunday, address_state="TX"))
    assert "quiet_hours.state.TX" in verdict.codes
    assert verdict.next_allowed_at == local("America/Denver", *SUNDAY, 12, 0)


def test_explicit_lead_zone_adds_to_the_area_code_zone() -> None:
    send = local("America/New_York", *TUESDAY, 9, 0)
    verdict = evaluate(ctx("+12125550142", send, lead_time_zone="America/Los_Angeles"))
    assert "quiet_hours.federal" in verdict.codes
    assert verdict.next_allowed_at == local("America/Los_Angeles", *TUESDAY, 8, 0)


class TestDST:
    def test_spring_forward_day(self) -> None:
        # 8 Mar 2026: 02:00 EST -> 03:00 EDT. 08:00 EDT is 12:00 UTC.
        night = dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC)  # 01:30 EST
        verdict = evaluate(ctx("+12125550142", night))
        assert verdict.next_allowed_at == dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC)
        assert not evaluate(
            ctx("+12125550142", dt.datetime(2026, 3, 8, 11, 59, tzinfo=dt.UTC))
        ).allowed

    def test_fall_back_day(self) -> None:
        # 1 Nov 2026: 02:00 EDT -> 01:00 EST. 08:00 EST is 13:00 UTC; 01:30 happens twice.
        verdict = evaluate(ctx("+12125550142", dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)))
        assert verdict.next_allowed_at == dt.datetime(2026, 11, 1, 13, 0, tzinfo=dt.UTC)
        assert not evaluate(
            ctx("+12125550142", dt.datetime(2026, 11, 1, 12, 30, tzinfo=dt.UTC))
        ).allowed
        # 21:00 EST that evening is 02:00 UTC the next day.
        assert evaluate(ctx("+12125550142", dt.datetime(2026, 11, 2, 1, 59, tzinfo=dt.UTC))).allowed
        assert not evaluate(
            ctx("+12125550142", dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC))
        ).allowed

    def test_local_fields_match_zoneinfo_minute_by_minute_around_transitions(self) -> None:
        import numpy as np

        from optimizer.compliance.localtime import local_fields

        for zone in ("America/New_York", "America/Denver", "America/Phoenix", "Pacific/Honolulu"):
            for start in (
                dt.datetime(2026, 3, 8, 5, tzinfo=dt.UTC),
                dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC),
            ):
                instants = [start + dt.timedelta(minutes=m) for m in range(0, 6 * 60, 7)]
                seconds = np.array([int(t.timestamp()) for t in instants], dtype=np.int64)
                fields = local_fields(zone, seconds)
                for t, sod, weekday in zip(
                    instants, fields.second_of_day, fields.weekday, strict=True
                ):
                    wall = t.astimezone(local(zone, 2026, 1, 1).tzinfo)
                    assert int(sod) == wall.hour * 3600 + wall.minute * 60
                    assert int(weekday) == wall.weekday()


def test_run_time_banned_date() -> None:
    from optimizer.compliance import BannedDay

    phone, zone, *_ = STATES["LA"]
    extra = (BannedDay("LA", dt.date(2026, 12, 1), "emergency declared by the governor"),)
    verdict = evaluate(ctx(phone, local(zone, *TUESDAY, 12, 0), extra_banned_dates=extra))
    assert verdict.codes == ("banned_day.state.LA",)
    assert "governor" in verdict.reasons[0].message
    assert verdict.next_allowed_at == local(zone, 2026, 12, 2, 8, 0)
    # The same day in another state is untouched.
    assert evaluate(
        ctx("+12125550142", local("America/New_York", *TUESDAY, 12, 0), extra_banned_dates=extra)
    ).allowed
