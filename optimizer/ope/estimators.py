"""Off-policy estimators of an evaluation policy's value from logged feedback.

With ``w_i = π_e(a_i|x_i) / π_b(a_i|x_i)`` and a reward model ``q̂``, ``q̂(x_i, π_e) =
Σ_a π_e(a|x_i) q̂(x_i, a)`` (definitions as in Open Bandit Pipeline's ``obp.ope``):

- IPW      ``mean(w r)`` (Horvitz–Thompson; Precup et al., 2000)
- SNIPW    ``Σ w r / Σ w`` (Swaminathan & Joachims, 2015)
- DM       ``mean(q̂(x, π_e))`` (Beygelzimer & Langford, 2009)
- DR       ``mean(q̂(x, π_e) + w (r − q̂(x, a)))`` (Dudík et al., 2014)
- Switch-DR ``mean(q̂(x, π_e) + 1{w ≤ λ} w (r − q̂(x, a)))`` (Wang et al., 2017)
- DRos     ``mean(q̂(x, π_e) + λw/(w² + λ) (r − q̂(x, a)))`` (Su et al., 2020)

Switch-DR's and DRos's ``λ`` is chosen from a candidate list by SLOPE (Su et al., 2020; Tucker &
Lee, 2021), as OBP's ``*Tuning`` estimators do by default. Every estimate comes with a seeded
percentile bootstrap interval over the logged rows (``q̂`` and a tuned ``λ`` held fixed) and the
importance weights' diagnostics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from optimizer.errors import InvalidInput
from optimizer.ope.data import BanditFeedback

ESTIMATORS = ("ipw", "snipw", "dm", "dr", "switch-dr", "dr-os")
NEEDS_REWARD_MODEL = frozenset({"dm", "dr", "switch-dr", "dr-os"})
# OBP's OBD example's candidate list for switch-DR and DRos.
DEFAULT_LAMBDAS = (10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0, math.inf)
SLOPE_DELTA = 0.1


@dataclass(frozen=True)
class WeightDiagnostics:
    """Importance weights ``w``: effective sample size ``(Σw)²/Σw²``, its share of the rows, the
    largest weight and the mean weight (1 in expectation when π_b covers π_e)."""

    n_rounds: int
    effective_sample_size: float
    ess_share: float
    max_weight: float
    mean_weight: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "n_rounds": self.n_rounds,
            "effective_sample_size": self.effective_sample_size,
            "ess_share": self.ess_share,
            "max_weight": self.max_weight,
            "mean_weight": self.mean_weight,
        }


@dataclass(frozen=True)
class Estimate:
    estimator: str
    value: float
    ci_low: float
    ci_high: float
    std_error: float  # standard deviation of the bootstrap estimates
    confidence: float
    lambda_: float | None  # the tuned λ of switch-DR / DRos
    # "rows": rows resampled (q̂ and λ held fixed: a model-based interval then leaves out the
    # reward model's own error); "rows+refit": q̂ refitted (and λ re-tuned) on each resample.
    interval: str = "rows"

    def to_dict(self) -> dict[str, float | str | None]:
        return {
            "estimator": self.estimator,
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "std_error": self.std_error,
            "confidence": self.confidence,
            "lambda": None if self.lambda_ is None or math.isinf(self.lambda_) else self.lambda_,
            "interval": self.interval,
        }


def weight_diagnostics(feedback: BanditFeedback) -> WeightDiagnostics:
    w = feedback.importance_weights()
    square = float((w**2).sum())
    ess = float(w.sum() ** 2 / square) if square > 0 else 0.0
    return WeightDiagnostics(
        n_rounds=feedback.n_rounds,
        effective_sample_size=ess,
        ess_share=ess / feedback.n_rounds,
        max_weight=float(w.max()),
        mean_weight=float(w.mean()),
    )


def _baseline(feedback: BanditFeedback, q_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``q̂(x_i, π_e)`` and ``q̂(x_i, a_i)``."""
    n = feedback.n_rounds
    return (feedback.action_dist * q_hat).sum(axis=1), q_hat[np.arange(n), feedback.action]


def round_rewards(
    name: str, feedback: BanditFeedback, q_hat: np.ndarray | None, lambda_: float = math.inf
) -> np.ndarray:
    """Per-row terms whose mean is the estimate (SNIPW's are normalised by the mean weight,
    as OBP's ``_estimate_round_rewards``)."""
    w = feedback.importance_weights()
    r = feedback.reward
    if name == "ipw":
        return w * r
    if name == "snipw":
        return w * r / w.mean()
    if q_hat is None:
        raise InvalidInput(f"estimator {name!r} needs a reward model", field="estimator")
    expected, factual = _baseline(feedback, q_hat)
    if name == "dm":
        return expected
    if name == "dr":
        return expected + w * (r - factual)
    if name == "switch-dr":
        return expected + (w <= lambda_) * w * (r - factual)
    if name == "dr-os":
        shrunk = w if math.isinf(lambda_) else lambda_ * w / (w**2 + lambda_)
        return expected + shrunk * (r - factual)
    raise InvalidInput(
        f"estimator {name!r} is not one of {', '.join(ESTIMATORS)}", field="estimator"
    )


def _student_t_width(x: np.ndarray, delta: float) -> float:
    n = x.shape[0]
    return float(math.sqrt(np.var(x) / (n - 1)) * stats.t(n - 1).ppf(1.0 - delta))


def slope_lambda(
    name: str,
    feedback: BanditFeedback,
    q_hat: np.ndarray,
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
    delta: float = SLOPE_DELTA,
) -> float:
    """SLOPE: order the candidates by the width of their one-sided Student-t bound (widest
    first) and keep the first candidate whose estimate leaves the intervals of all the wider
    ones; return the last candidate kept (OBP's ``_tune_hyperparam_with_slope``)."""
    c = math.sqrt(6) - 1
    thetas, widths = [], []
    for lam in lambdas:
        terms = round_rewards(name, feedback, q_hat, lam)
        thetas.append(float(terms.mean()))
        widths.append(_student_t_width(terms, delta))
    order = np.argsort(widths)[::-1]
    kept_theta: list[float] = []
    kept_width: list[float] = []
    for i, idx in enumerate(order):
        theta, width = thetas[idx], widths[idx]
        if (
            kept_theta
            and not (np.abs(np.array(kept_theta) - theta) <= width + c * np.array(kept_width)).all()
        ):
            return float(lambdas[order[i - 1]])
        kept_theta.append(theta)
        kept_width.append(width)
    return float(lambdas[order[-1]])


# Resampled row indices held in memory at once (resamples are drawn in chunks of this size).
BOOTSTRAP_CHUNK_CELLS = 4_000_000


def bootstrap_ratios(
    numerator: np.ndarray, denominator: np.ndarray | None, *, resamples: int, seed: int
) -> np.ndarray:
    """``resamples`` bootstrap values of ``Σ numerator / Σ denominator`` (``mean(numerator)``
    without a denominator) over rows drawn with replacement. The rows depend only on ``seed``,
    ``resamples`` and the row count, so every estimator given one seed sees the same
    resamples; they are drawn in chunks to bound memory."""
    n = numerator.shape[0]
    rng = np.random.default_rng(seed)
    per_chunk = max(1, BOOTSTRAP_CHUNK_CELLS // n)
    out = np.empty(resamples)
    done = 0
    while done < resamples:
        size = min(per_chunk, resamples - done)
        rows = rng.integers(0, n, size=(size, n))
        top = numerator[rows].sum(axis=1)
        out[done : done + size] = top / (
            n if denominator is None else denominator[rows].sum(axis=1)
        )
        done += size
    return out


def estimate(
    name: str,
    feedback: BanditFeedback,
    q_hat: np.ndarray | None = None,
    *,
    seed: int,
    resamples: int = 1000,
    confidence: float = 0.95,
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
) -> Estimate:
    """One estimator's value with its percentile bootstrap interval (``resamples`` resamples
    of the rows drawn with ``seed``)."""
    if name not in ESTIMATORS:
        raise InvalidInput(
            f"estimator {name!r} is not one of {', '.join(ESTIMATORS)}", field="estimator"
        )
    if not 0 < confidence < 1:
        raise InvalidInput(f"confidence {confidence!r}: must be in (0, 1)", field="confidence")
    if resamples < 2:
        raise InvalidInput(f"resamples {resamples}: at least 2", field="resamples")
    if name in NEEDS_REWARD_MODEL:
        if q_hat is None:
            raise InvalidInput(f"estimator {name!r} needs a reward model", field="estimator")
        q_hat = np.asarray(q_hat, dtype=float)
        if q_hat.shape != feedback.action_dist.shape:
            raise InvalidInput(
                f"q_hat: shape {q_hat.shape}, expected {feedback.action_dist.shape}",
                field="q_hat",
            )
    lambda_: float | None = None
    if name in ("switch-dr", "dr-os"):
        assert q_hat is not None
        lambda_ = slope_lambda(name, feedback, q_hat, lambdas)
    lam = math.inf if lambda_ is None else lambda_
    if name == "snipw":
        w = feedback.importance_weights()
        wr = w * feedback.reward
        value = float(wr.sum() / w.sum())
        boot = bootstrap_ratios(wr, w, resamples=resamples, seed=seed)
    else:
        terms = round_rewards(name, feedback, q_hat, lam)
        value = float(terms.mean())
        boot = bootstrap_ratios(terms, None, resamples=resamples, seed=seed)
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    return Estimate(
        estimator=name,
        value=value,
        ci_low=float(low),
        ci_high=float(high),
        std_error=float(boot.std(ddof=1)),
        confidence=confidence,
        lambda_=lambda_,
    )


@dataclass(frozen=True)
class Evaluation:
    estimates: tuple[Estimate, ...]
    weights: WeightDiagnostics

    def by_name(self) -> dict[str, Estimate]:
        return {e.estimator: e for e in self.estimates}


def evaluate(
    feedback: BanditFeedback,
    estimators: Sequence[str] = ESTIMATORS,
    q_hat: np.ndarray | None = None,
    *,
    seed: int,
    resamples: int = 1000,
    confidence: float = 0.95,
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
) -> Evaluation:
    """Every estimator in ``estimators`` on the same bootstrap resamples."""
    unknown = [name for name in estimators if name not in ESTIMATORS]
    if unknown:
        raise InvalidInput(
            f"estimator {unknown[0]!r} is not one of {', '.join(ESTIMATORS)}", field="estimator"
        )
    if resamples < 2:
        raise InvalidInput(f"resamples {resamples}: at least 2", field="resamples")
    out = tuple(
        estimate(
            name,
            feedback,
            q_hat,
            seed=seed,
            resamples=resamples,
            confidence=confidence,
            lambdas=lambdas,
        )
        for name in estimators
    )
    return Evaluation(estimates=out, weights=weight_diagnostics(feedback))
