from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from optimizer.reports import Period, segment_breakdown
from tests.reports.conftest import Filled
from tests.reports.factory import T0, Factory

D = dt.timedelta(days=1)


def _breakdown(report, dimension):  # type: ignore[no-untyped-def]
    return {r.key: r for r in next(b for b in report.breakdowns if b.dimension == dimension).rows}


def test_concentrate_and_drop_follow_the_intervals(session: Session) -> None:
    f = Factory(session)
    for i in range(200):
        segment = "hot" if i < 100 else "cold"
        lead = f.lead(vertical="retail")
        _decision, _sent = f.send(lead, at=T0 + i * dt.timedelta(minutes=5), segment=segment)
        converts = i % 2 == 0 if segment == "hot" else i % 50 == 0
        if converts:
            f.event(lead, type="conversion", at=T0 + i * dt.timedelta(minutes=5) + D, value=20.0)
    report = segment_breakdown(session, period=Period(start=T0, end=T0 + 5 * D), min_sends=30)
    rows = _breakdown(report, "segment")
    assert rows["hot"].conversion_rate == 0.5 and rows["hot"].advice == "concentrate"
    assert rows["cold"].conversion_rate == 0.02 and rows["cold"].advice == "drop"
    assert rows["hot"].revenue_per_message == 10.0
    assert list(rows) == ["hot", "cold"]  # hot, warm, cold order
    assert any("Concentrate on lead segment hot" in line for line in report.advice)
    assert _breakdown(report, "vertical")["retail"].advice == ""  # it is the whole population


def test_small_groups_get_no_advice(session: Session) -> None:
    f = Factory(session)
    for i in range(10):
        lead = f.lead()
        f.send(lead, at=T0 + i * dt.timedelta(hours=1), segment="hot" if i < 5 else "cold")
        if i < 5:
            f.event(lead, type="conversion", at=T0 + i * dt.timedelta(hours=1) + D, value=1.0)
    report = segment_breakdown(session, period=Period(start=T0, end=T0 + 5 * D), min_sends=30)
    assert all(r.advice == "" for b in report.breakdowns for r in b.rows)
    assert report.advice == ()


def test_local_hour_and_weekday_use_the_decisions_time_zone(session: Session) -> None:
    f = Factory(session)
    lead = f.lead(timezone="America/Los_Angeles")
    at = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)  # Monday 09:00 PST
    f.send(lead, at=at)
    report = segment_breakdown(session, period=Period(start=at - D, end=at + D))
    assert list(_breakdown(report, "local_hour")) == ["09:00"]
    assert list(_breakdown(report, "weekday")) == ["Mon"]
    other = f.lead(timezone="Asia/Tokyo")
    f.send(other, at=at)  # Tuesday 02:00 in Tokyo
    report = segment_breakdown(session, period=Period(start=at - D, end=at + D))
    assert set(_breakdown(report, "local_hour")) == {"09:00", "02:00"}
    assert set(_breakdown(report, "weekday")) == {"Mon", "Tue"}


def test_filled_world_groups_cover_every_send(filled: Filled) -> None:
    with filled.sessions() as session:
        report = segment_breakdown(
            session, period=Period(start=filled.world.start, end=filled.world.end)
        )
    for breakdown in report.breakdowns:
        assert sum(r.sends for r in breakdown.rows) == report.sends
        for row in breakdown.rows:
            assert row.conversion_ci_low <= (row.conversion_rate or 0) <= row.conversion_ci_high
    assert len(_breakdown(report, "variant")) == 3
