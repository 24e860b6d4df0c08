from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optimizer.errors import NotFound
from optimizer.reports import experiment_list, experiment_report
from optimizer.reports.charts import experiment_charts
from optimizer.store.models import DecisionReward
from tests.reports.conftest import Filled
from tests.reports.factory import T0, XSS_NAME, Factory


def test_report_on_the_filled_world(filled: Filled) -> None:
    with filled.sessions() as session:
        report = experiment_report(session, experiment_id=filled.world.experiment_id)
        rewards = session.scalar(
            select(func.count()).select_from(DecisionReward).where(DecisionReward.reward > 0)
        )
    assert [v.name for v in report.variants] == list(filled.world.variant_names)
    assert report.verdict and report.verdict_kind in {
        "ship", "keep_running", "no_difference", "not_enough_data", "srm",
    }  # fmt: skip
    assert sum(v.is_control for v in report.variants) == 1
    assert report.variants[0].is_control and report.variants[0].lift is None
    assert sum(v.prob_best or 0 for v in report.variants) == pytest.approx(1.0, abs=1e-6)
    assert report.leader == "Urgency: 24h offer"  # the arm with double the reply rate
    assert report.srm_method == "propensities" and not report.srm_mismatch
    xss = next(v for v in report.variants if v.name == XSS_NAME)
    assert xss.opt_out_rate == pytest.approx(xss.opt_outs / xss.sends)
    # Posterior curves are densities: each integrates to about 1 over the plotted range.
    for curve in report.posterior:
        assert np.trapezoid(curve.ys, curve.xs) == pytest.approx(1.0, abs=0.02)
    # Traffic shares sum to 1 on each day; cumulative responses end at the rewards recorded.
    days = report.traffic_share[0].days
    for index in range(len(days)):
        assert sum(s.values[index] for s in report.traffic_share) == pytest.approx(1.0)
    finals = [s.values[-1] for s in report.cumulative_successes]
    assert sum(finals) == rewards
    for series in report.cumulative_successes:
        assert list(series.values) == sorted(series.values)
    # Every choice is explained: burn-in early, the policy's own choices after.
    assert sum(a.decisions for a in report.allocation) == sum(v.sends for v in report.variants)
    reasons = {
        r: sum(dict(a.by_reason)[r] for a in report.allocation) for r in ("burn_in", "policy")
    }
    assert reasons["burn_in"] > 0 and reasons["policy"] > reasons["burn_in"]
    json.dumps(report.to_dict())


def test_charts_hold_one_line_per_variant(filled: Filled) -> None:
    with filled.sessions() as session:
        report = experiment_report(session, experiment_id=filled.world.experiment_id)
    charts = experiment_charts(report)
    assert [c.name for c in charts] == ["posterior", "traffic", "cumulative"]
    for chart in charts:
        assert chart.svg.count('class="series"') == 3
        assert XSS_NAME not in chart.svg and "&lt;script&gt;" in chart.svg


def test_list_and_unknown_id(filled: Filled) -> None:
    with filled.sessions() as session:
        listing = experiment_list(session)
        (summary,) = listing.experiments
        assert summary.variants == 3
        assert summary.leader == "Urgency: 24h offer"
        assert summary.sends == sum(
            v.sends for v in experiment_report(session, experiment_id=summary.id).variants
        )
        with pytest.raises(NotFound, match="experiment 999 does not exist"):
            experiment_report(session, experiment_id=999)


def test_new_experiment_without_sends_says_not_enough_data(session: Session) -> None:
    f = Factory(session, now=T0)
    experiment, _variants = f.experiment(variants=("A", "B"))
    report = experiment_report(session, experiment_id=experiment.id)
    assert report.verdict_kind == "not_enough_data"
    assert report.leader is None
    assert report.traffic_share == () and report.cumulative_successes == ()
    assert all(v.sends == 0 for v in report.variants)
    charts = experiment_charts(report)
    assert "No data yet" in charts[1].svg


def test_revenue_experiment_uses_normal_posteriors(session: Session) -> None:
    f = Factory(session, now=T0)
    experiment, (a, b) = f.experiment(
        name="revenue-test", metric="revenue", policy="thompson_normal", variants=("A", "B")
    )
    f.arm(a, sends=400, successes=20, revenue_sum=2000.0, revenue_sum_sq=2000.0 * 100.0)
    f.arm(b, sends=400, successes=40, revenue_sum=4000.0, revenue_sum_sq=4000.0 * 100.0)
    report = experiment_report(session, experiment_id=experiment.id)
    assert [v.rate for v in report.variants] == pytest.approx([5.0, 10.0])
    peaks = [curve.xs[int(np.argmax(curve.ys))] for curve in report.posterior]
    assert peaks[0] == pytest.approx(5.0, abs=0.5) and peaks[1] == pytest.approx(10.0, abs=0.5)
    svg = experiment_charts(report)[0].svg
    assert "revenue per message" in svg and "$" in svg


def test_an_unreadable_experiment_does_not_hide_the_others(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from optimizer.errors import InvalidInput
    from optimizer.reports import experiments as module

    f = Factory(session, now=T0)
    good, _ = f.experiment(name="good")
    bad, _ = f.experiment(name="bad")
    real = module.experiment_statistics

    def flaky(session: Session, *, experiment_id: int, seed: int = 0):  # type: ignore[no-untyped-def]
        if experiment_id == bad.id:
            raise InvalidInput("weights [0.5] given for 2 arms")
        return real(session, experiment_id=experiment_id, seed=seed)

    monkeypatch.setattr(module, "experiment_statistics", flaky)
    listing = {e.name: e for e in experiment_list(session).experiments}
    assert listing["good"].verdict_kind == "not_enough_data"
    assert listing["bad"].verdict_kind == "unavailable"
    assert "weights [0.5]" in (listing["bad"].note or "")
