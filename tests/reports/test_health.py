from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from optimizer.errors import InvalidInput
from optimizer.reports import Period, data_span, list_health, resolve_period
from optimizer.reports.health import opt_out_status
from tests.reports.conftest import Filled
from tests.reports.factory import T0, Factory

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def _small_store(session: Session) -> Period:
    """Ten sends over two weeks with hand-countable outcomes and deferrals."""
    f = Factory(session)
    leads = [f.lead() for _ in range(5)]
    for i, lead in enumerate(leads):
        f.send(lead, at=T0 + i * H)  # week of T0 (Monday)
        f.send(lead, at=T0 + 7 * D + i * H)  # next week
    # Reply 2 h after lead 0's first send: counted. Reply 100 h after lead 1's second send: not.
    f.event(leads[0], type="reply", at=T0 + 2 * H, text="yes", intent="other")
    f.event(leads[1], type="reply", at=T0 + 7 * D + 1 * H + 100 * H, text="late", intent="other")
    # A conversion 3 days after lead 2's first send: credited with its revenue.
    f.event(leads[2], type="conversion", at=T0 + 2 * H + 3 * D, value=50.0)
    # An opt-out (a reply with opt-out intent is not a response).
    f.event(leads[3], type="inbound", at=T0 + 7 * D + 4 * H, text="stop", intent="opt_out")
    f.decision(leads[4], at=T0 + 5 * H, action="send_at", reasons=("quiet_hours.state.FL",))
    f.decision(leads[4], at=T0 + 6 * H, action="hold", reasons=("frequency.house_7d",))
    f.decision(leads[4], at=T0 + 7 * H, action="hold", reasons=("banned_day.FL",))
    f.decision(leads[0], at=T0 + 8 * H, action="suppress", reasons=("dnc.national",))
    f.decision(leads[0], at=T0 + 9 * H, action="suppress", reasons=("dnc.national",))
    session.flush()
    return Period(start=T0, end=T0 + 14 * D)


def test_figures_count_what_the_docstring_says(session: Session) -> None:
    period = _small_store(session)
    report = list_health(session, period=period)
    f = report.figures
    assert f.sends == 10
    assert f.responses == 1  # the late reply is outside the 72 h window
    assert f.response_rate == pytest.approx(0.1)
    assert f.conversions == 1 and f.revenue == 50.0
    assert f.revenue_per_message == pytest.approx(5.0)
    assert f.opt_outs == 1 and f.opt_out_rate == pytest.approx(0.1)
    assert f.opt_out_status == "problem"
    assert f.quiet_hour_deferrals == 2  # quiet_hours.* and banned_day.*
    assert f.frequency_deferrals == 1
    assert f.dnc_suppressions == 1  # distinct leads, not decisions
    assert f.leads_contacted == 5 and f.contact_rate == pytest.approx(1.0)
    assert [w.week_start for w in report.weeks] == [T0.date(), (T0 + 7 * D).date()]
    assert [w.figures.sends for w in report.weeks] == [5, 5]
    assert report.weeks[1].figures.opt_outs == 1
    assert report.to_dict()["figures"]["opt_out_status"] == "problem"


def test_period_excludes_sends_outside_it(session: Session) -> None:
    _small_store(session)
    first_week = list_health(session, period=Period(start=T0, end=T0 + 7 * D))
    assert first_week.figures.sends == 5
    assert first_week.figures.opt_outs == 0


def test_empty_store_gives_no_data_not_errors(session: Session) -> None:
    report = list_health(session, period=Period(start=T0, end=T0 + D))
    assert report.figures.sends == 0
    assert report.figures.response_rate is None
    assert report.figures.opt_out_status == "no_data"
    assert report.weeks == ()


@pytest.mark.parametrize(
    ("rate", "status"),
    [
        (None, "no_data"),
        (0.0, "good"),
        (0.0099, "good"),
        (0.01, "watch"),
        (0.02, "watch"),
        (0.0201, "problem"),
    ],  # fmt: skip
)
def test_opt_out_marks(rate: float | None, status: str) -> None:
    assert opt_out_status(rate) == status


def test_filled_world_is_consistent(filled: Filled) -> None:
    with filled.sessions() as session:
        span = data_span(session)
        assert span is not None
        report = list_health(session, period=span)
    total = report.figures
    assert total.sends == sum(w.figures.sends for w in report.weeks)
    assert total.responses == sum(w.figures.responses for w in report.weeks)
    assert total.opt_outs == sum(w.figures.opt_outs for w in report.weeks)
    assert 0 < total.response_rate < 1  # type: ignore[operator]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (T0, T0, "is not after start"),
        (T0, T0 - D, "is not after start"),
        (T0.replace(tzinfo=None), T0 + D, "has no time zone"),
    ],
)
def test_bad_periods_are_named(start: dt.datetime, end: dt.datetime, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Period(start=start, end=end)


def test_resolve_period_presets_and_days() -> None:
    span = Period(start=T0, end=T0 + 100 * D)
    assert resolve_period(span, preset="all") == span
    assert resolve_period(span, preset="7d") == Period(start=T0 + 93 * D, end=T0 + 100 * D)
    custom = resolve_period(span, start=dt.date(2026, 3, 3), end=dt.date(2026, 3, 4))
    assert custom.start == dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
    assert custom.end == dt.datetime(2026, 3, 5, tzinfo=dt.UTC)  # end day inclusive
    assert resolve_period(None, preset="30d").days == 1.0
    with pytest.raises(InvalidInput, match="period '2w' is unknown"):
        resolve_period(span, preset="2w")
