"""Policies: propensities, safeguards, state, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.bandits import POLICIES, Choice, Policy, PolicyState, make_policy, policy_from_state
from optimizer.bandits.thompson import ThompsonBernoulli
from optimizer.errors import InvalidInput

RATES = np.array([0.05, 0.10, 0.20])


def _run(name: str, steps: int, seed: int = 0, **params: object) -> object:
    policy = make_policy(name, 3, params)  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        choice = policy.select(rng)
        policy.update(choice.arm, float(rng.random() < RATES[choice.arm]))
    return policy


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_follows_the_protocol(name: str) -> None:
    policy = make_policy(name, 3)
    assert isinstance(policy, Policy)
    choice = policy.select(np.random.default_rng(0))
    assert isinstance(choice, Choice) and 0 <= choice.arm < 3 and 0 < choice.propensity <= 1


@pytest.mark.parametrize("name", ["thompson", "ucb1", "epsilon_greedy"])
def test_adaptive_policies_find_the_best_arm(name: str) -> None:
    policy = _run(name, 2000, burn_in=20)
    assert int(np.argmax(policy.pulls)) == 2  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(POLICIES)),
    steps=st.integers(0, 150),
    seed=st.integers(0, 10_000),
    eligible=st.sets(st.integers(0, 3), min_size=1),
)
def test_probabilities_sum_to_one_over_the_eligible_arms(
    name: str, steps: int, seed: int, eligible: set[int]
) -> None:
    policy = make_policy(name, 4, {"burn_in": 5} if POLICIES[name].adaptive else None)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        choice = policy.select(rng)
        policy.update(choice.arm, float(rng.random() < 0.3))
    probs = policy.probabilities(rng, sorted(eligible))
    assert probs.sum() == pytest.approx(1.0)
    assert all(probs[i] == 0 for i in range(4) if i not in eligible)
    choice = policy.select(rng, sorted(eligible))
    assert choice.arm in eligible and 0 < choice.propensity <= 1


@pytest.mark.parametrize("name", ["ucb1", "epsilon_greedy", "fixed_split", "uniform"])
def test_exact_propensities_match_observed_frequencies(name: str) -> None:
    policy = _run(name, 500, burn_in=10)
    rng = np.random.default_rng(42)
    expected = policy.probabilities(rng)  # type: ignore[attr-defined]
    counts = np.zeros(3)
    for _ in range(10_000):
        choice = policy.select(rng)  # type: ignore[attr-defined]
        counts[choice.arm] += 1
        assert choice.propensity == pytest.approx(expected[choice.arm])
    assert counts / counts.sum() == pytest.approx(expected, abs=0.02)


def test_thompson_propensity_estimates_the_choice_frequency() -> None:
    policy = ThompsonBernoulli(n_arms=3, burn_in=0, min_share=0.0, draws=1000)
    for arm, (pulls, wins) in enumerate([(40, 6), (40, 9), (40, 10)]):
        policy.set_arm(arm, pulls=pulls, reward_sum=wins, reward_sum_sq=wins)
    rng = np.random.default_rng(5)
    choices = [policy.select(rng) for _ in range(2500)]
    frequency = np.bincount([c.arm for c in choices], minlength=3) / len(choices)
    mean_propensity = [np.mean([c.propensity for c in choices if c.arm == a]) for a in range(3)]
    assert mean_propensity == pytest.approx(frequency, abs=0.035)


def test_burn_in_is_an_even_split_then_min_share_keeps_every_arm() -> None:
    policy = make_policy("thompson", 3, {"burn_in": 30, "min_share": 0.02})
    rng = np.random.default_rng(0)
    first = policy.select(rng)
    assert (first.reason, first.propensity) == ("burn_in", pytest.approx(1 / 3))
    for arm, (pulls, wins) in enumerate([(30, 0), (30, 1), (3000, 900)]):
        policy.set_arm(arm, pulls=pulls, reward_sum=wins, reward_sum_sq=wins)
    probs = policy.probabilities(rng)
    assert probs.min() >= 0.02 - 1e-12
    assert probs[2] == pytest.approx(1 - 2 * 0.02, abs=0.005)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_state_round_trips_through_versioned_json(name: str) -> None:
    policy = _run(name, 200, seed=3)
    state = policy.state()  # type: ignore[attr-defined]
    text = state.to_json()
    assert json.loads(text)["version"] == 1
    again = policy_from_state(PolicyState.from_json(text))
    assert again.state() == state
    # Same state and seed, same choice (Thompson's Monte-Carlo cache is not state: compare
    # two restored copies rather than the original, whose cache holds earlier draws).
    twin = policy_from_state(PolicyState.from_json(text))
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    assert again.select(a) == twin.select(b)
    assert again.probabilities(a) == pytest.approx(policy.probabilities(b), abs=0.06)  # type: ignore[attr-defined]


def test_thompson_redraws_only_after_a_change() -> None:
    policy = ThompsonBernoulli(n_arms=3, burn_in=0, min_share=0.0, draws=500)
    rng = np.random.default_rng(0)
    first = policy.probabilities(rng)
    assert (policy.probabilities(rng) == first).all()  # cached: no new draws without news
    for _ in range(50):
        policy.update(2, 1.0)
        policy.update(0, 0.0)
    assert policy.probabilities(rng)[2] > 0.95  # the change is seen at once


def _ks_p_value(draws: np.ndarray, a: float, b: float) -> float:
    from scipy import stats

    return float(stats.kstest(draws, stats.beta(a, b).cdf).pvalue)


def test_thompson_draws_stay_exact_beta_after_incremental_updates() -> None:
    """Updates add Gamma draws to the kept Gamma pairs: each arm's draws must still follow
    Beta(alpha + successes, beta + failures) exactly (0/1 and fractional rewards)."""
    policy = ThompsonBernoulli(n_arms=2, burn_in=0, min_share=0.0, alpha=2.0, beta=3.0, draws=8000)
    rng = np.random.default_rng(11)
    rewards = np.random.default_rng(12).random(120)
    policy.probabilities(rng)  # first draws at the prior
    for i, r in enumerate(rewards):
        policy.update(0, float(r < 0.2))  # 0/1 rewards: exponential increments
        policy.update(1, 0.25 if i % 3 else 0.9)  # fractional rewards: Gamma increments
        if i % 10 == 0:
            policy.probabilities(rng)  # several state changes between draws, too
    draws = policy.posterior_draws(rng, np.array([0, 1]))
    for arm in (0, 1):
        a, b = policy.shapes(arm)
        assert _ks_p_value(draws[arm], a, b) > 1e-3, (arm, a, b)
    # Statistics that shrink (a state reloaded from the store) are drawn afresh, still exact.
    policy.set_arm(0, pulls=10, reward_sum=4, reward_sum_sq=4)
    again = policy.posterior_draws(rng, np.array([0]))
    assert _ks_p_value(again[0], 2.0 + 4, 3.0 + 6) > 1e-3


def test_thompson_normal_draws_stay_exact_student_t_after_updates() -> None:
    """The kept chi-square draws grow by the last numerators squared: each arm's draws must
    still follow its Student-t posterior (location, scale, degrees of freedom) exactly."""
    from scipy import stats

    from optimizer.bandits.thompson_normal import ThompsonNormal

    policy = ThompsonNormal(n_arms=2, burn_in=0, min_share=0.0, draws=8000)
    rng = np.random.default_rng(21)
    rewards = np.random.default_rng(22).normal(10.0, 4.0, size=150)
    policy.probabilities(rng)
    for i, r in enumerate(rewards):
        policy.update(i % 2, float(r))
        if i < 80 or i % 7 == 0:
            policy.probabilities(rng)  # one reward between draws, then several
    draws = policy.posterior_draws(rng, np.array([0, 1]))
    for arm in (0, 1):
        mu, scale, dof = policy.posterior_of(arm)
        p = stats.kstest((draws[arm] - mu) / scale, stats.t(dof).cdf).pvalue
        assert p > 1e-3, (arm, mu, scale, dof, p)
    # Statistics that shrink (a state reloaded from the store) are drawn afresh, still exact.
    policy.set_arm(1, pulls=5, reward_sum=40.0, reward_sum_sq=400.0)
    mu, scale, dof = policy.posterior_of(1)
    again = policy.posterior_draws(rng, np.array([1]))[0]
    assert stats.kstest((again - mu) / scale, stats.t(dof).cdf).pvalue > 1e-3


def test_thompson_win_shares_count_ties_once() -> None:
    from optimizer.bandits.montecarlo import win_shares

    rows = np.array([[0.5, 0.2, 0.9, 0.9], [0.5, 0.7, 0.1, 0.9], [0.1, 0.1, 0.9, 0.2]])
    expected = np.bincount(rows.argmax(axis=0), minlength=3) / 4
    assert win_shares(rows) == pytest.approx(expected)
    rows = np.random.default_rng(0).random((3, 1000))
    expected = np.bincount(rows.argmax(axis=0), minlength=3) / 1000
    assert win_shares(rows) == pytest.approx(expected)


def test_thompson_normal_prefers_the_higher_mean() -> None:
    policy = make_policy("thompson_normal", 2, {"burn_in": 0, "min_share": 0.0})
    rng = np.random.default_rng(0)
    for _ in range(300):
        policy.update(0, float(rng.normal(1.0, 2.0)))
        policy.update(1, float(rng.normal(2.0, 2.0)))
    assert policy.probabilities(rng)[1] > 0.99


BAD = [
    ("softmax", 3, {}, "policy 'softmax' is unknown"),
    ("thompson", 1, {}, "at least 2 arms"),
    ("thompson", 3, {"alpha": 0}, "both must be > 0"),
    ("thompson", 3, {"draws": 0}, "draws 0"),
    ("thompson", 3, {"min_share": 0.5}, "min_share 0.5"),
    ("thompson", 3, {"burn_in": -1}, "burn_in -1"),
    ("thompson", 3, {"temperature": 1}, "temperature not known"),
    ("epsilon_greedy", 3, {"epsilon": 1.5}, "epsilon 1.5"),
    ("ucb1", 3, {"exploration": -1}, "exploration -1"),
    ("fixed_split", 2, {"weights": [0.5, 0.6]}, "sum to 1.1"),
    ("fixed_split", 2, {"weights": [1.0]}, "1 given for 2 arms"),
    ("fixed_split", 2, {"weights": [1.5, -0.5]}, "must all be >= 0"),
    ("thompson_normal", 2, {"prior_rate": 0}, "prior_rate 0"),
]


@pytest.mark.parametrize(("name", "arms", "params", "message"), BAD)
def test_bad_policy_input_names_the_value(name: str, arms: int, params: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        make_policy(name, arms, params)


def test_bad_updates_and_eligibility() -> None:
    policy = make_policy("thompson", 3)
    with pytest.raises(InvalidInput, match=r"reward 2.0: a Beta"):
        policy.update(0, 2.0)
    with pytest.raises(InvalidInput, match="arm 5"):
        policy.update(5, 1.0)
    with pytest.raises(InvalidInput, match="indices must be in 0..2"):
        policy.select(np.random.default_rng(0), [0, 7])
    with pytest.raises(InvalidInput, match="empty"):
        policy.select(np.random.default_rng(0), [])
    with pytest.raises(InvalidInput, match="version 2"):
        PolicyState.from_json(json.dumps({"version": 2}))
    with pytest.raises(InvalidInput, match="not valid JSON"):
        PolicyState.from_json("{")
