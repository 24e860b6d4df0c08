"""Binary-classifier metrics: ROC AUC, PR AUC, Brier, log loss, top-decile lift, calibration."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

_EPS = 1e-12


@dataclass(frozen=True)
class BinaryMetrics:
    n: int
    positives: int
    base_rate: float
    roc_auc: float
    pr_auc: float
    brier: float
    log_loss: float
    top_decile_lift: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{k}": float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class CalibrationCurve:
    """Mean predicted probability and observed rate per bin of predicted probability."""

    mean_predicted: tuple[float, ...]
    observed: tuple[float, ...]
    counts: tuple[int, ...]


def top_decile_lift(y: np.ndarray, p: np.ndarray) -> float:
    """Positive rate among the 10% highest-scored rows divided by the overall rate."""
    n = len(y)
    base = float(np.mean(y)) if n else 0.0
    if n == 0 or base == 0.0:
        return math.nan
    k = max(1, math.ceil(n / 10))
    top = np.argsort(-p, kind="stable")[:k]
    return float(np.mean(y[top])) / base


def binary_metrics(y: np.ndarray, p: np.ndarray) -> BinaryMetrics:
    """All headline metrics; AUCs are NaN when ``y`` holds one class only."""
    y = np.asarray(y, dtype=np.int64)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    both = 0 < int(y.sum()) < len(y)
    return BinaryMetrics(
        n=len(y),
        positives=int(y.sum()),
        base_rate=float(y.mean()) if len(y) else math.nan,
        roc_auc=float(roc_auc_score(y, p)) if both else math.nan,
        pr_auc=float(average_precision_score(y, p)) if both else math.nan,
        brier=float(brier_score_loss(y, p)) if len(y) else math.nan,
        log_loss=float(log_loss(y, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1]))
        if len(y)
        else math.nan,
        top_decile_lift=top_decile_lift(y, p),
    )


def calibration_curve(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> CalibrationCurve:
    """Equal-count bins of predicted probability (so sparse high scores still get a point)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    chunks = [c for c in np.array_split(order, bins) if len(c)]
    return CalibrationCurve(
        mean_predicted=tuple(float(p[c].mean()) for c in chunks),
        observed=tuple(float(y[c].mean()) for c in chunks),
        counts=tuple(len(c) for c in chunks),
    )
