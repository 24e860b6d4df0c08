from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from optimizer.reports import Period, attribution, data_span
from optimizer.reports.attribution import MODELS, NO_VARIANT, credit_weights
from tests.reports.conftest import Filled
from tests.reports.factory import T0, Factory

D = dt.timedelta(days=1)


def _rows(rows: tuple, key: str):  # type: ignore[no-untyped-def]
    return next(r for r in rows if r.key == key)


def test_three_touches_then_a_conversion(session: Session) -> None:
    f = Factory(session)
    experiment, (a, b) = f.experiment(variants=("A", "B"))
    lead = f.lead()
    f.send(lead, at=T0, variant=a)
    f.send(lead, at=T0 + 4 * D, variant=b)
    f.send(lead, at=T0 + 8 * D, variant=b)
    f.event(lead, type="conversion", at=T0 + 9 * D, value=90.0)
    # A conversion with no text in the lookback window is unattributed.
    organic = f.lead()
    f.event(organic, type="conversion", at=T0 + 9 * D, value=10.0)
    report = attribution(session, period=Period(start=T0, end=T0 + 20 * D))

    assert report.conversions == 2 and report.revenue == 100.0
    assert report.unattributed_conversions == 1 and report.unattributed_revenue == 10.0
    t1, t2, t3 = (_rows(report.by_position, f"touch {n}") for n in (1, 2, 3))
    assert (t1.first.revenue, t2.first.revenue, t3.first.revenue) == (90.0, 0.0, 0.0)
    assert (t1.last.revenue, t2.last.revenue, t3.last.revenue) == (0.0, 0.0, 90.0)
    assert [t.linear.revenue for t in (t1, t2, t3)] == [30.0, 30.0, 30.0]
    assert t1.sends == t2.sends == t3.sends == 1
    va = _rows(report.by_variant, f"{experiment.name} / A")
    vb = _rows(report.by_variant, f"{experiment.name} / B")
    assert (va.first.conversions, vb.first.conversions) == (1.0, 0.0)
    assert (va.last.conversions, vb.last.conversions) == (0.0, 1.0)
    assert va.linear.conversions == pytest.approx(1 / 3)
    assert vb.linear.conversions == pytest.approx(2 / 3)
    assert vb.revenue_per_message == pytest.approx(60.0 / 2)


def test_lookback_window_and_sends_without_experiment(session: Session) -> None:
    f = Factory(session)
    lead = f.lead()
    f.send(lead, at=T0)  # no experiment
    f.send(lead, at=T0 + 20 * D)
    f.event(lead, type="conversion", at=T0 + 21 * D, value=5.0)
    report = attribution(session, period=Period(start=T0, end=T0 + 30 * D), lookback_days=14)
    row = _rows(report.by_variant, NO_VARIANT)
    assert row.first.conversions == 1.0  # only the send 1 day before is in the 14-day window
    assert _rows(report.by_position, "touch 2").first.conversions == 1.0
    assert _rows(report.by_position, "touch 1").linear.conversions == 0.0


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=40))
def test_each_model_hands_out_exactly_one_conversion(touches: int) -> None:
    weights = credit_weights(touches)
    for model in MODELS:
        assert len(weights[model]) == touches
        assert sum(weights[model]) == pytest.approx(1.0)
        assert all(w >= 0 for w in weights[model])


def test_credit_is_conserved_on_the_filled_world(filled: Filled) -> None:
    with filled.sessions() as session:
        span = data_span(session)
        assert span is not None
        report = attribution(session, period=span)
    attributed = report.conversions - report.unattributed_conversions
    for model in MODELS:
        for rows in (report.by_variant, report.by_position):
            total = sum(getattr(r, model).conversions for r in rows)
            assert total == pytest.approx(attributed)
    assert {r.key for r in report.by_position} >= {"touch 1", "touch 2"}
    assert len(report.by_variant) == 3
