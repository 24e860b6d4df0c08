"""The points model as the lead score's prior: read from the encoded matrix, fitted, shrunk,
saved, served and explained."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from optimizer.models.encoding import fit_spec
from optimizer.models.lead_score import LeadScoreModel, TrainConfig, fit_lead_score
from optimizer.models.points import points_inputs, points_score
from optimizer.models.points_prior import (
    REASON,
    STORE_MONOTONE,
    fit_points_prior,
    prior_inputs,
    prior_monotone,
)
from optimizer.models.serving import LeadScorer


def _store_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Leads whose conversion follows the points' signals, plus noise columns."""
    rng = np.random.default_rng(seed)

    def sometimes(p: float, high: float) -> np.ndarray:
        return np.where(rng.random(n) < p, rng.uniform(0, high, n), np.nan)

    frame = pd.DataFrame(
        {
            "days_since_engagement": sometimes(0.8, 150),
            "purchase_count": rng.poisson(0.3, n),
            "days_since_email_open": sometimes(0.4, 60),
            "days_since_click": sometimes(0.2, 60),
            "days_since_sms_reply": sometimes(0.15, 60),
            "noise": rng.normal(size=n),
            "state": pd.array(rng.choice(["TX", "CA", "NY", "FL"], n), dtype="str"),
        }
    )
    logit = -4.0 + 0.045 * points_score(points_inputs(frame))
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return frame, y


def test_points_from_the_matrix_equal_the_points_of_the_frame() -> None:
    frame, _ = _store_frame(500, 1)
    frame.loc[:5, "purchase_count"] = [0, 1, 2, 0, 0, 3]
    spec = fit_spec(frame, source="store:v1")
    from_matrix = points_score(prior_inputs(spec, spec.encode(frame), "store"))
    assert from_matrix.tolist() == points_score(points_inputs(frame)).tolist()
    # A spec without the optional columns reads them as never (as the frame mapping does).
    slim = frame[["days_since_engagement", "noise"]]
    slim_spec = fit_spec(slim, source="store:v1")
    assert (
        points_score(prior_inputs(slim_spec, slim_spec.encode(slim), "store")).tolist()
        == points_score(points_inputs(slim)).tolist()
    )


def test_bank_points_from_the_matrix_read_the_outcome_category() -> None:
    frame = pd.DataFrame(
        {
            "pdays": [999, 3, 45, 999, 6] * 6,
            "previous": [0, 1, 2, 1, np.nan] * 6,
            "poutcome": pd.array(
                ["nonexistent", "success", "failure", "failure", None] * 6, dtype="str"
            ),
        }
    )
    spec = fit_spec(frame, source="csv:x")
    from_matrix = points_score(prior_inputs(spec, spec.encode(frame), "bank"))
    assert from_matrix.tolist() == points_score(points_inputs(frame)).tolist()
    # An outcome never seen in training ("other" code) is not a success.
    unseen = frame.assign(poutcome=pd.array(["pending"] * len(frame), dtype="str"))
    assert not prior_inputs(spec, spec.encode(unseen), "bank").purchased.any()


def test_the_prior_shrinks_the_trees_by_the_evidence() -> None:
    frame, y = _store_frame(2000, 2)
    points = points_score(points_inputs(frame))
    prior = fit_points_prior("store", points, y, strength=100.0)
    assert prior is not None
    assert prior.slope > 0  # more points, more conversions
    assert prior.shrink == pytest.approx(y.sum() / (y.sum() + 100.0))
    assert fit_points_prior("store", points, y, strength=0.0).shrink == 1.0  # type: ignore[union-attr]
    assert fit_points_prior("none", points, y, strength=100.0) is None
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="strength"):
            fit_points_prior("store", points, y, strength=bad)


def test_monotone_constraints_cover_the_points_signals_only_where_free() -> None:
    names = ("noise", "days_since_engagement", "purchase_count", "days_since_click")
    frame, y = _store_frame(300, 3)
    prior = fit_points_prior("store", points_score(points_inputs(frame)), y, strength=100.0)
    assert prior_monotone(prior, names, None) == [0, -1, 1, -1]
    assert prior_monotone(prior, names, [1, 1, 0, 0]) == [1, 1, 1, -1]  # given ones are kept
    assert prior_monotone(None, names, None) is None
    assert {name for name, _ in STORE_MONOTONE} >= {"purchase_count", "days_since_sms_reply"}


def _fit(frame: pd.DataFrame, y: np.ndarray, *, with_prior: bool) -> LeadScoreModel:
    spec = fit_spec(frame, source="store:v1")
    matrix = spec.encode(frame)
    cut = int(len(y) * 0.75)
    prior = None
    if with_prior:
        prior = fit_points_prior(
            "store", points_score(points_inputs(frame.iloc[:cut])), y[:cut], strength=100.0
        )
    config = TrainConfig(max_rounds=60, early_stopping_rounds=20, num_threads=1)
    fit = fit_lead_score(
        matrix[:cut],
        y[:cut],
        matrix[cut:],
        y[cut:],
        spec=spec,
        config=config,
        prior=prior,
        monotone=prior_monotone(prior, spec.names, None),
    )
    return fit.model


def test_a_model_with_a_prior_adds_the_prior_to_the_shrunk_trees(tmp_path) -> None:
    frame, y = _store_frame(3000, 4)
    model = _fit(frame, y, with_prior=True)
    assert model.prior is not None
    matrix = model.spec.encode(frame)
    trees = model.booster.predict(matrix, num_iteration=model.best_iteration, raw_score=True)
    expected = 1 / (
        1 + np.exp(-(model.prior.margin(model.spec, matrix) + model.prior.shrink * trees))
    )
    np.testing.assert_allclose(model.raw_probability(matrix), expected, rtol=1e-12)
    # The explanation is the same prediction, split into reasons that sum to the log-odds.
    raw, contrib, names = model.explained(matrix)
    np.testing.assert_allclose(raw, model.raw_probability(matrix), rtol=1e-9)
    assert names[-1] == REASON and contrib.shape == (len(frame), len(model.spec.names) + 1)
    np.testing.assert_allclose(
        contrib[:, -1], model.prior.slope * points_score(points_inputs(frame))
    )
    # Saved and loaded: same probabilities, prior included; a file without a prior loads as None.
    model.save(tmp_path / "m")
    loaded = LeadScoreModel.load(tmp_path / "m")
    assert loaded.prior == model.prior
    np.testing.assert_allclose(loaded.probability(matrix), model.probability(matrix), rtol=1e-12)
    plain = _fit(frame, y, with_prior=False)
    plain.save(tmp_path / "p")
    meta = json.loads((tmp_path / "p" / "lead_score.json").read_text())
    del meta["prior"]  # as written before priors existed
    (tmp_path / "p" / "lead_score.json").write_text(json.dumps(meta))
    assert LeadScoreModel.load(tmp_path / "p").prior is None


def test_more_points_never_lower_the_score_of_a_prior_model() -> None:
    frame, y = _store_frame(3000, 5)
    model = _fit(frame, y, with_prior=True)
    base = frame.iloc[:200].copy()
    more = base.assign(
        purchase_count=base["purchase_count"] + 1,
        days_since_click=base["days_since_click"] / 2,
        days_since_engagement=base["days_since_engagement"] / 2,
    )  # known values only: LightGBM's constraints order values, not "missing" against them
    before = model.raw_probability(model.spec.encode(base))
    after = model.raw_probability(model.spec.encode(more))
    assert (after >= before - 1e-12).all()
    assert (after > before).mean() > 0.5


def test_the_scorer_serves_one_lead_and_a_pool_alike_with_the_points_reason() -> None:
    frame, y = _store_frame(3000, 6)
    model = _fit(frame, y, with_prior=True)
    scorer = LeadScorer(model=model, version="lead-score/1")
    pool = scorer.score(frame.iloc[:50], explain=True)
    for i in range(50):
        one = scorer.score_one(frame.iloc[i].to_dict(), explain=True)
        assert one.probability == pytest.approx(float(pool.probability[i]), rel=1e-9)
        assert one.reasons == pool.reasons[i]
    # With 3,000 leads driven by their points, the points are among most leads' top reasons.
    assert np.mean([REASON in dict(r) for r in pool.reasons]) > 0.5
