"""Probability to be best and expected loss, by seeded Monte-Carlo over the posteriors.

Binary metric: Beta(1 + successes, 1 + failures) per arm. Continuous metric: Normal with the
sample mean and its standard error (a flat prior; fine once each arm has a few dozen sends).
Expected loss of arm i = E[max_j θ_j − θ_i]: what choosing i now costs on average, in the
metric's own units (rate points as a fraction, or currency per send).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.stats.summary import ArmSummary

DEFAULT_DRAWS = 100_000


@dataclass(frozen=True)
class BayesResult:
    prob_best: tuple[float, ...]
    expected_loss: tuple[float, ...]
    draws: int
    seed: int


def posterior_draws(
    arms: Sequence[ArmSummary], *, metric: str, draws: int, seed: int
) -> np.ndarray:
    """A (draws, arms) matrix of posterior draws of each arm's rate or mean."""
    rng = np.random.default_rng(seed)
    if metric == "binary":
        a = np.array([1.0 + arm.successes for arm in arms])
        b = np.array([1.0 + arm.sends - arm.successes for arm in arms])
        return rng.beta(a, b, size=(draws, len(arms)))
    means = np.array([arm.mean for arm in arms])
    errors = np.array([math.sqrt(arm.variance / arm.sends) if arm.sends else 1e6 for arm in arms])
    return means + errors * rng.standard_normal((draws, len(arms)))


def prob_best_and_loss(
    arms: Sequence[ArmSummary],
    *,
    metric: str = "binary",
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> BayesResult:
    samples = posterior_draws(arms, metric=metric, draws=draws, seed=seed)
    winners = samples.argmax(axis=1)
    prob_best = np.bincount(winners, minlength=len(arms)) / draws
    loss = (samples.max(axis=1)[:, None] - samples).mean(axis=0)
    return BayesResult(
        tuple(float(p) for p in prob_best), tuple(float(x) for x in loss), draws, seed
    )
