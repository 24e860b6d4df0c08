"""Estimators on a synthetic bandit with a closed-form value, and against OBP's formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optimizer.errors import InvalidInput
from optimizer.ope import (
    BanditFeedback,
    RewardModelSpec,
    at_positions,
    cross_fitted_rewards,
    estimate,
    evaluate,
    weight_diagnostics,
)
from optimizer.ope.estimators import round_rewards, slope_lambda
from tests.ope.synthetic import make_world

SEEDS = range(6)


@pytest.fixture(scope="module")
def world():
    return make_world()


def test_world_value_is_closed_form(world):
    # The evaluation policy beats the logging one, so a biased "logged mean" would be wrong.
    assert world.true_value > world.value(world.logging) + 0.05
    assert np.allclose(world.logging.sum(axis=1), 1) and (world.logging >= 0.1 - 1e-12).all()


@pytest.mark.parametrize("name", ["ipw", "snipw", "dr"])
def test_unbiased_within_interval_over_seeds(world, name):
    truth = world.true_value
    covered, values, errors = 0, [], []
    for seed in SEEDS:
        feedback = world.sample(4000, seed)
        q_hat = cross_fitted_rewards(feedback, RewardModelSpec(folds=3, seed=seed))
        result = estimate(name, feedback, q_hat, seed=seed, resamples=400)
        covered += result.ci_low <= truth <= result.ci_high
        values.append(result.value)
        errors.append(result.std_error)
    # A 95 % interval covers in (nearly) every seed, and the seeds' mean is within 3 standard
    # errors of the mean: no bias of the size of one interval.
    assert covered >= len(SEEDS) - 1
    mean_error = float(np.mean(errors)) / math.sqrt(len(SEEDS))
    assert abs(float(np.mean(values)) - truth) < 3 * mean_error
    # The logged mean is far off: the test could fail for an estimator ignoring the weights.
    logged = float(np.mean([world.sample(4000, s).reward.mean() for s in SEEDS]))
    assert abs(logged - truth) > 6 * mean_error


def test_dm_and_dr_family_close_to_truth_with_a_good_model(world):
    # LightGBM learns the type × action interactions that an additive logistic model cannot.
    feedback = world.sample(6000, 11)
    q_hat = cross_fitted_rewards(feedback, RewardModelSpec(model="lightgbm", folds=4, seed=3))
    result = evaluate(feedback, q_hat=q_hat, seed=5, resamples=300).by_name()
    for name in ("dr", "switch-dr", "dr-os"):
        assert result[name].ci_low <= world.true_value <= result[name].ci_high, name
    # DM's interval holds q̂ fixed (no model uncertainty), so only its error is bounded here.
    assert abs(result["dm"].value - world.true_value) < 0.02
    assert result["dm"].std_error < result["ipw"].std_error


def test_identical_policies_give_the_on_policy_mean_exactly(world):
    feedback = world.sample(3000, 2, target_as_logging=True)
    assert (feedback.importance_weights() == 1.0).all()
    on_policy = float(feedback.reward.mean())
    assert estimate("ipw", feedback, seed=0, resamples=50).value == on_policy
    assert estimate("snipw", feedback, seed=0, resamples=50).value == pytest.approx(
        on_policy, abs=1e-15
    )
    diagnostics = weight_diagnostics(feedback)
    assert diagnostics.effective_sample_size == pytest.approx(3000)
    assert diagnostics.max_weight == 1.0


def test_bootstrap_is_seeded(world):
    feedback = world.sample(1000, 3)
    a = estimate("ipw", feedback, seed=9, resamples=200)
    b = estimate("ipw", feedback, seed=9, resamples=200)
    c = estimate("ipw", feedback, seed=10, resamples=200)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    assert a.ci_low < a.value < a.ci_high


def test_weight_diagnostics_by_hand():
    feedback = BanditFeedback(
        context=np.zeros((4, 1)),
        action=[0, 1, 0, 1],
        reward=[1, 0, 0, 1],
        pscore=[0.5, 0.5, 0.25, 0.5],
        action_dist=[[1, 0], [0.5, 0.5], [1, 0], [0, 1]],
    )
    w = np.array([2.0, 1.0, 4.0, 2.0])
    d = weight_diagnostics(feedback)
    assert d.effective_sample_size == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert d.max_weight == 4.0 and d.mean_weight == pytest.approx(2.25)


# --- Open Bandit Pipeline's formulas, written out as in obp/ope/estimators.py --------------
# OBP is not installed: its pins (numpy 1.23, pandas 1.5, scikit-learn 1.1) would downgrade
# the project's. These are its ``_estimate_round_rewards`` on (n, n_actions, len_list) arrays.


def _obp_ipw(reward, action, pscore, action_dist, position):
    iw = action_dist[np.arange(action.shape[0]), action, position] / pscore
    return reward * iw


def _obp_snipw(reward, action, pscore, action_dist, position):
    iw = action_dist[np.arange(action.shape[0]), action, position] / pscore
    return reward * iw / iw.mean()


def _obp_dr(reward, action, pscore, action_dist, q, position, mode="dr", lambda_=np.inf):
    n = action.shape[0]
    iw = action_dist[np.arange(n), action, position] / pscore
    if mode == "switch":
        iw_used = iw * np.array(iw <= lambda_, dtype=int)
    elif mode == "os":
        iw_used = (lambda_ * iw) / (iw**2 + lambda_) if lambda_ < np.inf else iw
    else:
        iw_used = np.minimum(iw, lambda_)
    q_at = q[np.arange(n), :, position]
    q_factual = q[np.arange(n), action, position]
    pi_e_at = action_dist[np.arange(n), :, position]
    out = np.average(q_at, weights=pi_e_at, axis=1)
    return out + iw_used * (reward - q_factual)


def _obp_dm(action_dist, q, position):
    n = position.shape[0]
    return np.average(
        q[np.arange(n), :, position], weights=action_dist[np.arange(n), :, position], axis=1
    )


def test_matches_obp_formulas_on_the_same_arrays():
    rng = np.random.default_rng(4)
    n, actions, positions = 2000, 5, 3
    position = rng.integers(0, positions, n)
    dist3 = rng.dirichlet(np.ones(actions), size=(n, positions)).transpose(0, 2, 1)
    q3 = rng.uniform(0, 1, size=(n, actions, positions))
    action = rng.integers(0, actions, n)
    pscore = rng.uniform(0.05, 0.6, n)
    reward = (rng.random(n) < 0.3).astype(float)
    feedback = BanditFeedback(
        context=rng.normal(size=(n, 2)),
        action=action,
        reward=reward,
        pscore=pscore,
        action_dist=at_positions(dist3, position),
        position=position,
    )
    q2 = at_positions(q3, position)
    args = (reward, action, pscore, dist3)
    np.testing.assert_allclose(round_rewards("ipw", feedback, None), _obp_ipw(*args, position))
    np.testing.assert_allclose(round_rewards("snipw", feedback, None), _obp_snipw(*args, position))
    np.testing.assert_allclose(round_rewards("dm", feedback, q2), _obp_dm(dist3, q3, position))
    np.testing.assert_allclose(round_rewards("dr", feedback, q2), _obp_dr(*args, q3, position))
    for lam in (1.0, 5.0, 50.0, np.inf):
        np.testing.assert_allclose(
            round_rewards("switch-dr", feedback, q2, lam),
            _obp_dr(*args, q3, position, "switch", lam),
        )
        np.testing.assert_allclose(
            round_rewards("dr-os", feedback, q2, lam), _obp_dr(*args, q3, position, "os", lam)
        )
    # The limits: switch-DR at λ=0 is DM; both at λ=∞ are DR.
    np.testing.assert_allclose(
        round_rewards("switch-dr", feedback, q2, 0.0), round_rewards("dm", feedback, q2)
    )
    value = estimate("dr", feedback, q2, seed=0, resamples=20).value
    assert value == pytest.approx(_obp_dr(*args, q3, position).mean())


def test_slope_picks_a_candidate_and_prefers_low_variance_when_estimates_agree(world):
    feedback = world.sample(3000, 1)
    q_hat = cross_fitted_rewards(feedback, RewardModelSpec(folds=3, seed=1))
    chosen = slope_lambda("dr-os", feedback, q_hat, (0.5, 5.0, np.inf))
    assert chosen in (0.5, 5.0, np.inf)
    # With the true reward model every λ is unbiased, so SLOPE keeps shrinking: smallest λ.
    kinds = feedback.context.argmax(axis=1)
    exact = world.q[kinds]
    assert slope_lambda("dr-os", feedback, exact, (0.5, 5.0, np.inf)) == 0.5


# --- Invalid inputs ------------------------------------------------------------------------


def _valid(**override):
    base = dict(
        context=np.zeros((3, 2)),
        action=[0, 1, 1],
        reward=[1.0, 0.0, 1.0],
        pscore=[0.5, 0.5, 0.25],
        action_dist=[[0.5, 0.5], [0.2, 0.8], [0.0, 1.0]],
    )
    base.update(override)
    return base


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            dict(pscore=[0.5, 0.0, 0.25]),
            r"pscore\[1\] = 0\.0: a logging propensity must be in \(0, 1\]",
        ),
        (dict(pscore=[0.5, 1.5, 0.25]), r"pscore\[1\] = 1\.5"),
        (dict(pscore=[0.5, -0.1, 0.25]), r"pscore\[1\] = -0\.1"),
        (dict(reward=[1.0, np.nan, 1.0]), r"reward\[1\] = nan: must be a finite number"),
        (dict(pscore=[np.nan, 0.5, 0.5]), r"pscore\[0\] = nan"),
        (dict(context=np.array([[0, 0], [0, np.inf], [0, 0]])), r"context\[\(1, 1\)\] = inf"),
        (dict(reward=[1.0, 0.0]), r"different lengths: context 3, action 3, reward 2"),
        (dict(action=[0, 1]), r"different lengths: .*action 2"),
        (
            dict(action_dist=[[0.5, 0.5], [0.2, 0.7], [0.0, 1.0]]),
            r"action_dist row 1 sums to 0\.9\d*: each row must sum to 1",
        ),
        (
            dict(action_dist=[[0.5, 0.5], [1.2, -0.2], [0.0, 1.0]]),
            r"action_dist\[1, 1\] = -0\.2",
        ),
        (dict(action=[0, 2, 1]), r"action\[1\] = 2: must be in 0\.\.1"),
        (dict(action=[0, 0.5, 1]), r"action\[1\] = 0\.5: must be a whole number"),
        (dict(action_dist=[0.5, 0.5, 1.0]), r"action_dist: expected a 2-dimensional array"),
        (dict(position=[0, -1, 0]), r"position\[1\] = -1"),
    ],
)
def test_invalid_input_names_the_value(override, message):
    with pytest.raises(InvalidInput, match=message):
        BanditFeedback(**_valid(**override))


def test_valid_input_is_accepted_and_typed():
    feedback = BanditFeedback(**_valid(position=[0, 1, 0]))
    assert feedback.action.dtype == np.int64 and feedback.position is not None
    assert feedback.n_actions == 2 and feedback.n_positions == 2


def test_estimator_arguments_are_checked(world):
    feedback = world.sample(200, 0)
    with pytest.raises(InvalidInput, match="estimator 'dm' needs a reward model"):
        estimate("dm", feedback, None, seed=0)
    with pytest.raises(InvalidInput, match="estimator 'magic' is not one of"):
        estimate("magic", feedback, seed=0)
    with pytest.raises(InvalidInput, match=r"q_hat: shape \(200, 2\)"):
        estimate("dr", feedback, np.zeros((200, 2)), seed=0)
    with pytest.raises(InvalidInput, match="resamples 1"):
        estimate("ipw", feedback, seed=0, resamples=1)


def test_bootstrap_in_chunks_draws_the_same_resamples(world, monkeypatch):
    from optimizer.ope import estimators

    feedback = world.sample(500, 8)
    whole = estimate("snipw", feedback, seed=3, resamples=64)
    monkeypatch.setattr(estimators, "BOOTSTRAP_CHUNK_CELLS", 500 * 5)  # 5 resamples a chunk
    chunked = estimate("snipw", feedback, seed=3, resamples=64)
    assert (chunked.ci_low, chunked.ci_high, chunked.std_error) == (
        whole.ci_low,
        whole.ci_high,
        whole.std_error,
    )
