"""The cross-fitted reward model and the Monte-Carlo Bernoulli-TS action distribution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from optimizer.errors import InvalidInput
from optimizer.ope import BanditFeedback, RewardModelSpec, cross_fitted_rewards
from optimizer.ope.policies import (
    BetaPrior,
    bernoulli_ts_action_dist,
    load_bts_prior,
    uniform_action_dist,
)
from tests.ope.synthetic import make_world


def test_cross_fitting_keeps_a_rows_reward_out_of_its_own_prediction():
    world = make_world()
    feedback = world.sample(600, 4)
    spec = RewardModelSpec(model="logistic", folds=3, seed=2)
    q_hat = cross_fitted_rewards(feedback, spec)
    assert q_hat.shape == (600, 3) and ((q_hat > 0) & (q_hat < 1)).all()
    flipped_reward = feedback.reward.copy()
    flipped_reward[17] = 1 - flipped_reward[17]
    flipped = BanditFeedback(
        context=feedback.context,
        action=feedback.action,
        reward=flipped_reward,
        pscore=feedback.pscore,
        action_dist=feedback.action_dist,
    )
    q_flipped = cross_fitted_rewards(flipped, spec)
    # Row 17's prediction comes from the folds without it; the other folds' models changed.
    np.testing.assert_array_equal(q_flipped[17], q_hat[17])
    assert not np.array_equal(q_flipped, q_hat)
    # The seed fixes the folds.
    np.testing.assert_array_equal(cross_fitted_rewards(feedback, spec), q_hat)


def test_reward_model_learns_the_rates():
    world = make_world()
    feedback = world.sample(8000, 5)
    q_hat = cross_fitted_rewards(feedback, RewardModelSpec(model="lightgbm", folds=3, seed=0))
    kinds = feedback.context.argmax(axis=1)
    assert np.abs(q_hat - world.q[kinds]).mean() < 0.03


def test_reward_model_rejects_non_binary_rewards_and_bad_specs():
    feedback = BanditFeedback(
        context=np.zeros((4, 1)),
        action=[0, 1, 0, 1],
        reward=[1, 0, 2.5, 1],
        pscore=[0.5] * 4,
        action_dist=[[0.5, 0.5]] * 4,
    )
    with pytest.raises(InvalidInput, match=r"reward\[2\] = 2\.5: the reward classifier needs 0/1"):
        cross_fitted_rewards(feedback, RewardModelSpec())
    with pytest.raises(InvalidInput, match="reward model 'svm' is not one of"):
        RewardModelSpec(model="svm")
    with pytest.raises(InvalidInput, match="folds 1"):
        RewardModelSpec(folds=1)


def test_a_fold_without_clicks_predicts_its_constant_rate():
    feedback = BanditFeedback(
        context=np.zeros((30, 1)),
        action=np.arange(30) % 2,
        reward=np.zeros(30),
        pscore=np.full(30, 0.5),
        action_dist=np.full((30, 2), 0.5),
    )
    assert (cross_fitted_rewards(feedback, RewardModelSpec(folds=3)) == 0).all()


def _p_first_beats_second(a1: float, b1: float, a2: float, b2: float) -> float:
    """P(X1 > X2) for independent Beta draws, by quadrature."""

    def integrand(x: float) -> float:
        return float(stats.beta.pdf(x, a1, b1) * stats.beta.cdf(x, a2, b2))

    return float(integrate.quad(integrand, 0, 1)[0])


def test_bts_distribution_matches_the_closed_form_for_two_actions():
    prior = BetaPrior(np.array([3.0, 2.0]), np.array([5.0, 6.0]))
    dist = bernoulli_ts_action_dist(prior, len_list=2, n_sim=200_000, seed=1)
    p = _p_first_beats_second(3, 5, 2, 6)
    assert dist[0, 0] == pytest.approx(p, abs=0.004)
    assert dist[1, 1] == pytest.approx(p, abs=0.004)  # the loser takes the second slot
    np.testing.assert_allclose(dist.sum(axis=0), 1.0)


def test_bts_distribution_is_seeded_and_columns_are_distributions():
    prior = BetaPrior(np.arange(1.0, 11.0), np.full(10, 20.0))
    a = bernoulli_ts_action_dist(prior, len_list=3, n_sim=60_000, seed=5)
    b = bernoulli_ts_action_dist(prior, len_list=3, n_sim=60_000, seed=5)
    c = bernoulli_ts_action_dist(prior, len_list=3, n_sim=60_000, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_allclose(a.sum(axis=0), 1.0)
    assert a[:, 0].argmax() == 9  # the largest prior mean is ranked first most often
    with pytest.raises(InvalidInput, match="len_list 11"):
        bernoulli_ts_action_dist(prior, len_list=11, n_sim=10, seed=0)
    with pytest.raises(InvalidInput, match=r"prior beta\[1\] = 0\.0: must be a positive"):
        BetaPrior(np.ones(2), np.array([1.0, 0.0]))


def test_uniform_distribution():
    dist = uniform_action_dist(4, 3)
    assert dist.shape == (4, 3) and (dist == 0.25).all()


def test_load_prior(tmp_path: Path):
    path = tmp_path / "prior.yaml"
    path.write_text("men:\n  alpha: [1.0, 2.0]\n  beta: [3.0, 4.0]\n", encoding="utf-8")
    prior = load_bts_prior(path, "men")
    assert prior.alpha.tolist() == [1.0, 2.0] and prior.beta.tolist() == [3.0, 4.0]
    with pytest.raises(
        InvalidInput, match=r"campaign 'women' is not in prior\.yaml \(campaigns: men\)"
    ):
        load_bts_prior(path, "women")
    with pytest.raises(InvalidInput, match="does not exist"):
        load_bts_prior(tmp_path / "nope.yaml", "men")
