"""Evaluate a policy on a log, and measure estimators' relative error where the truth is known.

``relative_errors`` follows Open Bandit Pipeline's OBD protocol (``examples/obd``): draw
``runs`` bootstrap samples of the logged rows; on each, cross-fit the reward model afresh,
estimate the evaluation policy's value with every estimator, and record ``|V̂ − V| / V``
against the known value ``V`` (for OBD, the evaluation policy's own on-policy mean reward).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from optimizer.errors import InvalidInput
from optimizer.ope.data import BanditFeedback
from optimizer.ope.estimators import (
    DEFAULT_LAMBDAS,
    ESTIMATORS,
    NEEDS_REWARD_MODEL,
    Evaluation,
    evaluate,
    round_rewards,
    slope_lambda,
)
from optimizer.ope.obd import ObdLog
from optimizer.ope.reward_model import RewardModelSpec, cross_fitted_rewards


def feedback_from_log(log: ObdLog, policy_dist: np.ndarray) -> BanditFeedback:
    """The log with the evaluation policy's ``(n_actions, len_list)`` distribution taken at
    each row's position."""
    if policy_dist.shape != (log.n_actions, log.len_list):
        raise InvalidInput(
            f"policy distribution has shape {policy_dist.shape}; the log has {log.n_actions} "
            f"actions in {log.len_list} positions",
            field="policy",
        )
    return BanditFeedback(
        context=log.context,
        action=log.action,
        reward=log.reward,
        pscore=log.pscore,
        action_dist=policy_dist.T[log.position],
        position=log.position,
    )


def point_value(
    name: str,
    feedback: BanditFeedback,
    q_hat: np.ndarray | None,
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
) -> float:
    if name == "snipw":
        w = feedback.importance_weights()
        return float((w * feedback.reward).sum() / w.sum())
    lam = float("inf")
    if name in ("switch-dr", "dr-os"):
        assert q_hat is not None
        lam = slope_lambda(name, feedback, q_hat, lambdas)
    return float(round_rewards(name, feedback, q_hat, lam).mean())


@dataclass(frozen=True)
class RelativeErrors:
    truth: float
    runs: int
    errors: dict[str, np.ndarray]  # estimator → (runs,) relative errors
    estimates: dict[str, np.ndarray]  # estimator → (runs,) estimates

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "mean": float(err.mean()),
                "std": float(err.std(ddof=1)) if err.size > 1 else 0.0,
                "mean_estimate": float(self.estimates[name].mean()),
            }
            for name, err in self.errors.items()
        }


def relative_errors(
    feedback: BanditFeedback,
    truth: float,
    *,
    estimators: Sequence[str] = ESTIMATORS,
    spec: RewardModelSpec,
    runs: int,
    seed: int,
    action_context: np.ndarray | None = None,
) -> RelativeErrors:
    """``|V̂ − V| / V`` of each estimator on ``runs`` bootstrap samples (sample ``b`` drawn
    with seed ``(seed, b)``; the reward model cross-fitted on each with ``spec``)."""
    if truth <= 0:
        raise InvalidInput(f"true value {truth!r}: relative error needs a positive value")
    if runs < 1:
        raise InvalidInput(f"runs {runs}: at least 1", field="runs")
    errors = {name: np.empty(runs) for name in estimators}
    values = {name: np.empty(runs) for name in estimators}
    needs_model = any(name in NEEDS_REWARD_MODEL for name in estimators)
    for b in range(runs):
        rng = np.random.default_rng([seed, b])
        sample = feedback.take(rng.integers(0, feedback.n_rounds, size=feedback.n_rounds))
        q_hat = cross_fitted_rewards(sample, spec, action_context) if needs_model else None
        for name in estimators:
            value = point_value(name, sample, q_hat)
            values[name][b] = value
            errors[name][b] = abs(value - truth) / truth
    return RelativeErrors(truth=truth, runs=runs, errors=errors, estimates=values)


def evaluate_policy(
    feedback: BanditFeedback,
    *,
    estimators: Sequence[str] = ESTIMATORS,
    spec: RewardModelSpec,
    seed: int,
    resamples: int,
    model_resamples: int = 0,
    confidence: float = 0.95,
    action_context: np.ndarray | None = None,
) -> Evaluation:
    """Point estimates with bootstrap intervals, the reward model cross-fitted once. With
    ``model_resamples`` > 0 the model-based estimators' intervals come instead from that many
    bootstrap samples with the reward model refitted (and λ re-tuned) on each, so that they
    include the model's own error (slower: one cross-fit per sample)."""
    if model_resamples == 1 or model_resamples < 0:
        raise InvalidInput(
            f"model resamples {model_resamples}: 0 (off) or at least 2", field="model_resamples"
        )
    model_based = [name for name in estimators if name in NEEDS_REWARD_MODEL]
    q_hat = cross_fitted_rewards(feedback, spec, action_context) if model_based else None
    result = evaluate(
        feedback, estimators, q_hat, seed=seed, resamples=resamples, confidence=confidence
    )
    if not model_based or model_resamples == 0:
        return result
    refits = {name: np.empty(model_resamples) for name in model_based}
    for b in range(model_resamples):
        rows = np.random.default_rng([seed, 1, b]).integers(
            0, feedback.n_rounds, size=feedback.n_rounds
        )
        sample = feedback.take(rows)
        q_sample = cross_fitted_rewards(sample, spec, action_context)
        for name in model_based:
            refits[name][b] = point_value(name, sample, q_sample)
    tail = (1 - confidence) / 2
    estimates = []
    for e in result.estimates:
        if e.estimator in refits:
            values = refits[e.estimator]
            low, high = np.quantile(values, [tail, 1 - tail])
            e = replace(
                e,
                ci_low=float(low),
                ci_high=float(high),
                std_error=float(values.std(ddof=1)),
                interval="rows+refit",
            )
        estimates.append(e)
    return Evaluation(estimates=tuple(estimates), weights=result.weights)
