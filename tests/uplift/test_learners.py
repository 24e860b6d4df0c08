"""The learners recover a known uplift on a randomised synthetic experiment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from optimizer.models.uplift import (
    LEARNERS,
    UpliftConfig,
    UpliftModel,
    fit_response,
    fit_uplift,
    predict_booster,
)
from optimizer.models.uplift_metrics import qini_auc_score
from tests.uplift.synthetic import encoded, experiment, true_uplift

CONFIG = UpliftConfig(seed=7, num_threads=1)


@pytest.fixture(scope="module")
def binary_data():
    train = experiment(12_000, 1)
    test = experiment(6_000, 2)
    return train, test


@pytest.fixture(scope="module")
def continuous_data():
    return experiment(12_000, 3, continuous=True), experiment(6_000, 4, continuous=True)


def _fit(train, learner, outcome):
    frame, y, t = train
    spec, x = encoded(frame)
    return fit_uplift(x, y, t, learner=learner, outcome=outcome, spec=spec, config=CONFIG)


@pytest.mark.parametrize("learner", LEARNERS)
def test_binary_uplift_has_the_right_sign_and_order(binary_data, learner):
    train, (frame, y, t) = binary_data
    model = _fit(train, learner, "binary")
    pred = model.predict(model.spec.encode(frame))
    tau = true_uplift(frame)
    assert spearmanr(pred, tau).statistic > 0.6
    x1 = frame["x1"].to_numpy()
    # Persuadables get a positive estimate, sleeping dogs a negative one, in the right size.
    assert pred[x1 > 0.6].mean() > 0.06
    assert pred[x1 < -0.6].mean() < -0.06
    assert abs(pred.mean() - tau.mean()) < 0.03


@pytest.mark.parametrize("learner", LEARNERS)
def test_continuous_uplift_has_the_right_sign_and_order(continuous_data, learner):
    train, (frame, y, t) = continuous_data
    model = _fit(train, learner, "continuous")
    pred = model.predict(model.spec.encode(frame))
    tau = true_uplift(frame, continuous=True)
    assert spearmanr(pred, tau).statistic > 0.5
    x1 = frame["x1"].to_numpy()
    assert pred[x1 > 0.6].mean() > 1.0
    assert pred[x1 < -0.6].mean() < -1.0


def test_uplift_beats_the_response_model_where_sure_things_exist(binary_data):
    """The response model ranks the sure things (high x3) first; uplift does not."""
    train, (frame, y, t) = binary_data
    model = _fit(train, "two_model", "binary")
    spec, x_train = encoded(train[0])
    response = fit_response(x_train, train[1], train[2], outcome="binary", spec=spec, config=CONFIG)
    x_test = spec.encode(frame)
    uplift_qini = qini_auc_score(y, model.predict(x_test), t)
    response_qini = qini_auc_score(y, predict_booster(response, x_test), t)
    assert uplift_qini > 1.5 * response_qini and uplift_qini > response_qini + 0.02
    assert spearmanr(predict_booster(response, x_test), frame["x3"]).statistic > 0.8


@pytest.mark.parametrize("learner", LEARNERS)
def test_save_load_predicts_the_same(binary_data, learner, tmp_path: Path):
    train, (frame, _, _) = binary_data
    model = _fit((train[0][:3000], train[1][:3000], train[2][:3000]), learner, "binary")
    model.save(tmp_path / "m")
    loaded = UpliftModel.load(tmp_path / "m")
    x = model.spec.encode(frame)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert loaded.learner == learner and loaded.treated_share == model.treated_share


def test_the_seed_decides_the_fit(binary_data):
    train, (frame, _, _) = binary_data
    small = (train[0][:3000], train[1][:3000], train[2][:3000])
    spec, x = encoded(small[0])
    fits = [
        fit_uplift(
            x,
            small[1],
            small[2],
            learner="two_model",
            outcome="binary",
            spec=spec,
            config=UpliftConfig(seed=seed, num_threads=1),
        ).predict(x)
        for seed in (1, 1, 2)
    ]
    np.testing.assert_array_equal(fits[0], fits[1])
    assert not np.array_equal(fits[0], fits[2])


@pytest.mark.parametrize(
    ("y", "t", "outcome", "learner", "match"),
    [
        ([0, 1, 2, 1], [0, 1, 0, 1], "binary", "two_model", "binary outcome must be 0 or 1"),
        ([0, 1, 0, 1], [0, 1, 2, 1], "binary", "two_model", "0 .control. or 1"),
        ([0, 1, 0, 1], [1, 1, 1, 1], "binary", "two_model", "both a treated and a control"),
        ([0, np.nan, 0, 1], [0, 1, 0, 1], "continuous", "x_learner", "finite"),
        ([0, 1, 0, 1], [0, 1, 0, 1], "binary", "s_learner", "learner 's_learner'"),
        ([0, 1, 0, 1], [0, 1, 0, 1], "count", "two_model", "outcome 'count'"),
    ],
)
def test_bad_input_is_refused(y, t, outcome, learner, match):
    frame, _, _ = experiment(4, 0)
    spec, x = encoded(frame)
    with pytest.raises(ValueError, match=match):
        fit_uplift(
            x,
            np.array(y, dtype=float),
            np.array(t),
            learner=learner,
            outcome=outcome,
            spec=spec,
            config=CONFIG,
        )


def test_inverse_propensity_weights_unbias_the_class_transformation_of_a_small_holdout():
    """A 15 % control group (a holdout's shape): the binary class transformation assumes 1/2
    and is badly off without weights; with 1/propensity weights it recovers the uplift."""
    frame, y, t = experiment(24_000, 5)
    keep = (t == 1) | (np.random.default_rng(99).random(len(t)) < 0.18)
    frame, y, t = frame.loc[keep].reset_index(drop=True), y[keep], t[keep]
    share = float((t == 0).mean())
    assert 0.1 < share < 0.2
    spec, x = encoded(frame)
    weight = np.where(t == 1, 1.0 / (1.0 - share), 1.0 / share)
    test_frame, _, _ = experiment(6_000, 6)
    x_test = spec.encode(test_frame)
    truth = true_uplift(test_frame)
    plain = fit_uplift(
        x, y, t, learner="class_transformation", outcome="binary", spec=spec, config=CONFIG
    )
    weighted = fit_uplift(
        x,
        y,
        t,
        learner="class_transformation",
        outcome="binary",
        spec=spec,
        config=CONFIG,
        weight=weight / weight.mean(),
    )
    assert weighted.treated_share == pytest.approx(0.5)
    assert plain.predict(x_test).mean() < truth.mean() - 0.1
    assert abs(weighted.predict(x_test).mean() - truth.mean()) < 0.03
    assert spearmanr(weighted.predict(x_test), truth).statistic > 0.5


@pytest.mark.parametrize("bad", [np.array([1.0, -1.0]), np.array([np.nan, 1.0]), np.ones(3)])
def test_bad_weights_are_refused(bad):
    frame, y, t = experiment(200, 1)
    spec, x = encoded(frame)
    weight = np.ones(len(y))
    weight[: len(bad)] = bad
    if len(bad) == 3:
        weight = np.ones(len(y) + 1)
    with pytest.raises(ValueError, match="weights must be"):
        fit_uplift(
            x, y, t, learner="two_model", outcome="binary", spec=spec, config=CONFIG, weight=weight
        )
