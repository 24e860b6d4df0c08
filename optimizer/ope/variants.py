"""Candidate variant policies evaluated on an experiment's decision log.

The service's variant choice is context-free per experiment, so a candidate is a distribution
over the experiment's variants: ``uniform``, ``variant:NAME`` (always NAME) or
``split:A=0.5,B=0.5`` (weights, normalised). Binary metrics get every estimator (the reward
model is then the cross-fitted per-variant rate); revenue gets IPW and SNIPW only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optimizer.errors import InvalidInput
from optimizer.ope.benchmark import evaluate_policy
from optimizer.ope.data import BanditFeedback
from optimizer.ope.estimators import ESTIMATORS, NEEDS_REWARD_MODEL, Evaluation
from optimizer.ope.reward_model import RewardModelSpec

BINARY = ("reply", "click", "conversion")


def candidate_distribution(policy: str, names: Sequence[str]) -> np.ndarray:
    """The candidate's probability of each variant in ``names``."""
    k = len(names)
    if k == 0:
        raise InvalidInput("the experiment has no variants", field="policy")
    if policy == "uniform":
        return np.full(k, 1.0 / k)
    if policy.startswith("variant:"):
        name = policy.split(":", 1)[1]
        if name not in names:
            raise InvalidInput(
                f"--policy {policy!r}: variant {name!r} is not one of {', '.join(names)}",
                field="policy",
            )
        dist = np.zeros(k)
        dist[list(names).index(name)] = 1.0
        return dist
    if policy.startswith("split:"):
        dist = np.zeros(k)
        for part in policy.split(":", 1)[1].split(","):
            name, _, weight = part.partition("=")
            name = name.strip()
            if name not in names:
                raise InvalidInput(
                    f"--policy {policy!r}: variant {name!r} is not one of {', '.join(names)}",
                    field="policy",
                )
            try:
                value = float(weight)
            except ValueError:
                raise InvalidInput(
                    f"--policy {policy!r}: weight {weight!r} of {name!r} is not a number",
                    field="policy",
                ) from None
            if not (np.isfinite(value) and value >= 0):
                raise InvalidInput(
                    f"--policy {policy!r}: weight {weight!r} of {name!r} must be >= 0",
                    field="policy",
                )
            dist[list(names).index(name)] += value
        if dist.sum() <= 0:
            raise InvalidInput(f"--policy {policy!r}: the weights sum to 0", field="policy")
        return dist / dist.sum()
    raise InvalidInput(
        f"--policy {policy!r} is not uniform, variant:NAME or split:NAME=W,...", field="policy"
    )


def variant_feedback(
    arm: np.ndarray, propensity: np.ndarray, reward: np.ndarray, dist: np.ndarray
) -> BanditFeedback:
    n = arm.shape[0]
    if n == 0:
        raise InvalidInput("the decision log has no sent decisions with a known reward yet")
    return BanditFeedback(
        context=np.zeros((n, 0)),
        action=arm,
        reward=reward,
        pscore=propensity,
        action_dist=np.tile(dist, (n, 1)),
    )


def evaluate_variant_policy(
    feedback: BanditFeedback,
    metric: str,
    *,
    estimators: Sequence[str] = ESTIMATORS,
    seed: int,
    resamples: int,
    folds: int = 3,
    model_resamples: int = 200,
    action_context: np.ndarray | None = None,
) -> Evaluation:
    """The candidate's value; the model-based intervals refit the per-variant reward model on
    ``model_resamples`` bootstrap samples (cheap here: no context). ``action_context`` gives
    the reward model features of each action instead of its one-hot."""
    if metric not in BINARY:
        model_based = [name for name in estimators if name in NEEDS_REWARD_MODEL]
        if model_based and tuple(estimators) != ESTIMATORS:
            raise InvalidInput(
                f"estimator {model_based[0]!r} needs a 0/1 metric; {metric!r} gets ipw, snipw",
                field="estimators",
            )
        estimators = [name for name in estimators if name not in NEEDS_REWARD_MODEL]
    return evaluate_policy(
        feedback,
        estimators=estimators,
        spec=RewardModelSpec(model="logistic", folds=folds, seed=seed),
        seed=seed,
        resamples=resamples,
        model_resamples=model_resamples if any(n in NEEDS_REWARD_MODEL for n in estimators) else 0,
        action_context=action_context,
    )


def logged_value(
    reward: np.ndarray, metric: str, confidence: float = 0.95
) -> tuple[float, float, float]:
    """The logged policy's own value on its log (the mean reward) and its interval: Wilson's
    for a 0/1 metric, the normal approximation for revenue. No rows → ``InvalidInput``."""
    from optimizer.stats.intervals import mean_interval, wilson_interval

    values = np.asarray(reward, dtype=float)
    n = int(values.size)
    if n == 0:
        raise InvalidInput("the log has no sends with a known reward", field="log")
    mean = float(values.mean())
    if metric in BINARY:
        low, high = wilson_interval(int(values.sum()), n, confidence)
    else:
        variance = float(values.var(ddof=1)) if n > 1 else 0.0
        low, high = mean_interval(mean, variance, n, confidence)
    return mean, float(low), float(high)
