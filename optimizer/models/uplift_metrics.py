"""Uplift metrics as scikit-uplift defines them, with seeded bootstrap intervals.

- **Qini coefficient** = scikit-uplift's ``qini_auc_score`` (``negative_effect=True``): the area
  between the Qini curve and the random line, divided by the same area for the perfect ranking.
  Qini curve at the top n rows: ``Y_t(n) - Y_c(n) * N_t(n) / N_c(n)`` (sums of outcomes and
  counts of treated / control rows among them).
- **AUUC** = ``uplift_auc_score``: the same normalisation over the uplift curve
  ``(Y_t(n)/N_t(n) - Y_c(n)/N_c(n)) * n``.
- **uplift@k** = ``uplift_at_k(strategy='overall')``: among the top ``int(n k)`` rows, the mean
  outcome of treated rows minus that of control rows.

Rows are ordered as scikit-uplift orders them (``argsort(kind="mergesort")[::-1]``, so ties
break the same way) and the curves have a point at every distinct score. Unlike scikit-uplift
these accept a continuous outcome (revenue); the perfect ranking is then the Qini one (treated
rows by outcome descending, control rows by outcome ascending) for both curves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TOP_SHARES = (0.1, 0.2, 0.3)
METRICS = ("qini", "auuc", "uplift_at_10", "uplift_at_20", "uplift_at_30")


def _order(score: np.ndarray) -> np.ndarray:
    return np.argsort(score, kind="mergesort")[::-1]


def _cumulative(
    y: np.ndarray, score: np.ndarray, treatment: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n, N_t, Y_t, N_c, Y_c at each distinct-score threshold, in descending score order."""
    order = _order(score)
    y, score, t = y[order], score[order], treatment[order]
    thresholds = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    n_t = np.cumsum(t, dtype=np.float64)[thresholds]
    y_t = np.cumsum(y * t, dtype=np.float64)[thresholds]
    y_c = np.cumsum(y * (1 - t), dtype=np.float64)[thresholds]
    n_all = (thresholds + 1).astype(np.float64)
    return n_all, n_t, y_t, n_all - n_t, y_c


def _from_origin(x: np.ndarray, curve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.size == 0 or curve[0] != 0 or x[0] != 0:
        return np.r_[0.0, x], np.r_[0.0, curve]
    return x, curve


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def qini_curve(
    y: np.ndarray, score: np.ndarray, treatment: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(rows targeted, incremental outcomes) at each threshold, from (0, 0)."""
    n_all, n_t, y_t, n_c, y_c = _cumulative(*_arrays(y, score, treatment))
    return _from_origin(n_all, y_t - y_c * _ratio(n_t, n_c))


def uplift_curve(
    y: np.ndarray, score: np.ndarray, treatment: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(rows targeted, uplift among them × rows) at each threshold, from (0, 0)."""
    n_all, n_t, y_t, n_c, y_c = _cumulative(*_arrays(y, score, treatment))
    return _from_origin(n_all, (_ratio(y_t, n_t) - _ratio(y_c, n_c)) * n_all)


def _perfect_score(y: np.ndarray, treatment: np.ndarray, *, for_auuc: bool) -> np.ndarray:
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    if for_auuc and binary:
        # scikit-uplift's perfect_uplift_curve: rows where the outcome equals the flag first
        # (treated responders, control non-responders), ties broken by whichever of the
        # outcome or the flag leaves the more harmful group (control responders or treated
        # non-responders) last.
        control_responders = np.sum((y == 1) & (treatment == 0))
        treated_non_responders = np.sum((y == 0) & (treatment == 1))
        summand = y if control_responders > treated_non_responders else treatment
        return 2.0 * (y == treatment) + summand
    return y * treatment - y * (1 - treatment)


def _auc(x: np.ndarray, curve: np.ndarray) -> float:
    return float(np.trapezoid(curve, x))


def _normalised(
    actual: tuple[np.ndarray, np.ndarray], perfect: tuple[np.ndarray, np.ndarray]
) -> float:
    x_p, c_p = perfect
    baseline = 0.5 * float(x_p[-1]) * float(c_p[-1])
    denominator = _auc(x_p, c_p) - baseline
    if denominator == 0 or not math.isfinite(denominator):
        return math.nan
    return (_auc(*actual) - baseline) / denominator


def _arrays(
    y: np.ndarray, score: np.ndarray, treatment: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    treatment = np.asarray(treatment, dtype=np.int64)
    if not len(y) == len(score) == len(treatment):
        raise ValueError(
            f"lengths differ: y {len(y)}, score {len(score)}, treatment {len(treatment)}"
        )
    return y, score, treatment


def qini_auc_score(y: np.ndarray, score: np.ndarray, treatment: np.ndarray) -> float:
    """Qini coefficient, normalised by the perfect ranking (1 = perfect, 0 = random)."""
    y, score, treatment = _arrays(y, score, treatment)
    perfect = qini_curve(y, _perfect_score(y, treatment, for_auuc=False), treatment)
    return _normalised(qini_curve(y, score, treatment), perfect)


def uplift_auc_score(y: np.ndarray, score: np.ndarray, treatment: np.ndarray) -> float:
    """Area under the uplift curve, normalised by the perfect ranking."""
    y, score, treatment = _arrays(y, score, treatment)
    perfect = uplift_curve(y, _perfect_score(y, treatment, for_auuc=True), treatment)
    return _normalised(uplift_curve(y, score, treatment), perfect)


def uplift_at_k(y: np.ndarray, score: np.ndarray, treatment: np.ndarray, k: float) -> float:
    """Treated minus control mean outcome among the top ``int(n k)`` rows (NaN if a group
    is absent there)."""
    y, score, treatment = _arrays(y, score, treatment)
    if not 0 < k < 1:
        raise ValueError(f"k={k} must be in (0, 1)")
    top = _order(score)[: int(len(y) * k)]
    y_top, t_top = y[top], treatment[top]
    if t_top.sum() == 0 or t_top.sum() == len(t_top):
        return math.nan
    return float(y_top[t_top == 1].mean() - y_top[t_top == 0].mean())


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class UpliftScores:
    """The headline metrics of one ranking on one sample, each with its bootstrap interval."""

    n: int
    qini: Estimate
    auuc: Estimate
    uplift_at_10: Estimate
    uplift_at_20: Estimate
    uplift_at_30: Estimate
    resamples: int
    level: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        out: dict[str, float] = {}
        for name in METRICS:
            est: Estimate = getattr(self, name)
            out[f"{prefix}{name}"] = est.value
            out[f"{prefix}{name}_low"] = est.low
            out[f"{prefix}{name}_high"] = est.high
        return out


def point_scores(y: np.ndarray, score: np.ndarray, treatment: np.ndarray) -> tuple[float, ...]:
    """(qini, auuc, uplift@10, uplift@20, uplift@30) on one sample."""
    return (
        qini_auc_score(y, score, treatment),
        uplift_auc_score(y, score, treatment),
        *(uplift_at_k(y, score, treatment, k) for k in TOP_SHARES),
    )


def uplift_scores(
    y: np.ndarray,
    score: np.ndarray,
    treatment: np.ndarray,
    *,
    seed: int,
    resamples: int = 200,
    level: float = 0.95,
) -> UpliftScores:
    """Point values and percentile bootstrap intervals (rows resampled with replacement;
    a resample where a metric is undefined is left out of that metric's interval)."""
    y, score, treatment = _arrays(y, score, treatment)
    point = point_scores(y, score, treatment)
    rng = np.random.default_rng(seed)
    n = len(y)
    draws = np.full((resamples, len(METRICS)), np.nan)
    for b in range(resamples):
        rows = rng.integers(0, n, n)
        draws[b] = point_scores(y[rows], score[rows], treatment[rows])
    tail = (1.0 - level) / 2.0
    estimates = []
    for j, value in enumerate(point):
        finite = draws[:, j][np.isfinite(draws[:, j])]
        if finite.size == 0:
            estimates.append(Estimate(value, math.nan, math.nan))
        else:
            low, high = np.quantile(finite, [tail, 1.0 - tail])
            estimates.append(Estimate(float(value), float(low), float(high)))
    qini, auuc, at_10, at_20, at_30 = estimates
    return UpliftScores(
        n=n,
        qini=qini,
        auuc=auuc,
        uplift_at_10=at_10,
        uplift_at_20=at_20,
        uplift_at_30=at_30,
        resamples=resamples,
        level=level,
    )
