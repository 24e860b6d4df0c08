"""Figures logged with every lead-score run: ROC, calibration, importance, SHAP summary.

Built on ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot state, no display).
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from optimizer.models.lead_score import LeadScoreModel
from optimizer.models.metrics import calibration_curve
from training.evaluate import Predictions


def _figure(width: float = 6.0, height: float = 5.0) -> Figure:
    fig = Figure(figsize=(width, height), dpi=90)
    FigureCanvasAgg(fig)
    return fig


def roc_figure(preds: Predictions) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    for label, p in (
        ("LightGBM (calibrated)", preds.model),
        ("logistic regression", preds.logistic),
        ("points baseline", preds.points),
    ):
        fpr, tpr, _ = roc_curve(preds.y, p)
        ax.plot(fpr, tpr, label=label)
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC on the holdout")
    ax.legend(loc="lower right")
    return fig


def calibration_figure(preds: Predictions) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    for label, p in (("calibrated", preds.model), ("uncalibrated", preds.uncalibrated)):
        curve = calibration_curve(preds.y, p, bins=10)
        ax.plot(curve.mean_predicted, curve.observed, marker="o", label=label)
    top = max(float(preds.model.max()), float(preds.uncalibrated.max()), 0.05)
    ax.plot([0, top], [0, top], linestyle=":", color="grey")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed conversion rate")
    ax.set_title("Calibration on the holdout (equal-count bins)")
    ax.legend(loc="upper left")
    return fig


def importance_figure(model: LeadScoreModel, *, top: int = 20) -> Figure:
    gain = np.asarray(
        model.booster.feature_importance(importance_type="gain", iteration=model.best_iteration)
    )
    order = np.argsort(gain)[::-1][:top][::-1]
    fig = _figure(7.0, 0.3 * len(order) + 1.5)
    ax = fig.add_subplot()
    ax.barh([model.spec.names[i] for i in order], gain[order])
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance (gain)")
    fig.tight_layout()
    return fig


def shap_summary_figure(model: LeadScoreModel, matrix: np.ndarray, *, top: int = 15) -> Figure:
    """Beeswarm-style summary: one dot per row and feature, x = SHAP value (log-odds)."""
    contrib = model.contributions(matrix)
    order = np.argsort(np.abs(contrib).mean(axis=0))[::-1][:top][::-1]
    fig = _figure(7.0, 0.35 * len(order) + 1.5)
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    for pos, j in enumerate(order):
        values = matrix[:, j]
        finite = np.isfinite(values)
        colour = np.full(len(values), 0.5)
        if finite.any() and np.ptp(values[finite]) > 0:
            lo, hi = np.nanpercentile(values[finite], [5, 95])
            colour[finite] = np.clip((values[finite] - lo) / max(hi - lo, 1e-12), 0, 1)
        jitter = rng.uniform(-0.3, 0.3, len(values))
        ax.scatter(contrib[:, j], pos + jitter, c=colour, cmap="coolwarm", s=3, alpha=0.6)
    ax.set_yticks(range(len(order)), [model.spec.names[j] for j in order])
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("SHAP value (log-odds; colour: low -> high feature value)")
    ax.set_title("SHAP summary (pred_contrib) on the holdout")
    fig.tight_layout()
    return fig
