"""Fit the model and its baselines on one split and compare them on the same held-out rows.

Splits:
- holdout: the last 20% of rows are the test set when the data is time-ordered (a stratified
  random 20% otherwise); of the rest, the last 20% (or a stratified 20%) is the validation set
  used for early stopping, calibration and the segment cut-offs.
- cv: stratified 5-fold; inside each fold a stratified 20% validation set.
- walk-forward: train on the previous ``window`` rows, score the next ``step`` rows, pooled over
  the file. Inside a window the validation rows are a stratified sample: the outer split already
  keeps the future out, and a time-ordered inner split on drifting data stopped boosting after
  1-8 trees in several windows of the bank data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from optimizer.errors import InvalidInput
from optimizer.models.calibration import level_shift
from optimizer.models.drift import DriftOptions, monotone_vector, recency_weights, with_changes
from optimizer.models.encoding import FeatureSpec, fit_spec
from optimizer.models.engine import Engine
from optimizer.models.lead_score import FitResult, TrainConfig, choose_cutoffs, fit_lead_score
from optimizer.models.logistic import LogisticBaseline
from optimizer.models.metrics import BinaryMetrics, binary_metrics
from optimizer.models.points import fit_points_logit, points_inputs, points_score
from optimizer.models.points_prior import fit_points_prior, prior_monotone
from training.datasets import TrainingData

VALID_FRACTION = 0.2
TEST_FRACTION = 0.2


def split_rows(
    y: np.ndarray, *, fraction: float, time_ordered: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(first, second) row indices: the last ``fraction`` in time order, or stratified random."""
    n = len(y)
    index = np.arange(n)
    if time_ordered:
        cut = n - max(1, round(n * fraction))
        return index[:cut], index[cut:]
    first, second = train_test_split(index, test_size=fraction, stratify=y, random_state=seed)
    return np.sort(first), np.sort(second)


@dataclass(frozen=True)
class PointsCalibration:
    """Maps points to a probability (logistic fit on training rows) so Brier is comparable."""

    a: float
    b: float
    mapping: str

    def apply(self, points: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.a * points + self.b)))


def fit_points(
    frame: pd.DataFrame, y: np.ndarray, weight: np.ndarray | None = None
) -> PointsCalibration:
    inputs = points_inputs(frame)
    slope, intercept = fit_points_logit(points_score(inputs), y, weight)
    return PointsCalibration(slope, intercept, inputs.mapping)


@dataclass(frozen=True)
class FoldModels:
    spec: FeatureSpec
    fit: FitResult
    logistic: LogisticBaseline
    points: PointsCalibration


@dataclass(frozen=True)
class Predictions:
    y: np.ndarray
    model: np.ndarray
    uncalibrated: np.ndarray
    logistic: np.ndarray
    points: np.ndarray

    @staticmethod
    def concat(parts: list[Predictions]) -> Predictions:
        return Predictions(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in Predictions.fields())
        )

    @staticmethod
    def fields() -> tuple[str, ...]:
        return ("y", "model", "uncalibrated", "logistic", "points")


@dataclass(frozen=True)
class Comparison:
    mode: str
    folds: int
    model: BinaryMetrics
    uncalibrated: BinaryMetrics
    logistic: BinaryMetrics
    points: BinaryMetrics
    points_mapping: str

    def as_metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name in ("model", "uncalibrated", "logistic", "points"):
            prefix = f"{self.mode}.{name}." if name != "model" else f"{self.mode}."
            out.update(getattr(self, name).as_dict(prefix))
        return out


def _metrics(y: np.ndarray, p: np.ndarray) -> BinaryMetrics:
    """The metrics of ``p``; NaN figures when the model was not fitted (``p`` all NaN)."""
    if len(p) and np.isnan(p).all():
        nan = float("nan")
        return BinaryMetrics(len(y), int(np.sum(y)), float(np.mean(y)), nan, nan, nan, nan, nan)
    return binary_metrics(y, p)


def compare(mode: str, folds: int, preds: Predictions, mapping: str) -> Comparison:
    return Comparison(
        mode=mode,
        folds=folds,
        model=binary_metrics(preds.y, preds.model),
        uncalibrated=binary_metrics(preds.y, preds.uncalibrated),
        logistic=_metrics(preds.y, preds.logistic),
        points=binary_metrics(preds.y, preds.points),
        points_mapping=mapping,
    )


def with_drift_features(data: TrainingData, drift: DriftOptions) -> TrainingData:
    """``data`` with the past-only change features of ``drift`` (the frame must be in time
    order: they read the rows before each row)."""
    if drift.active and not data.time_ordered:
        raise InvalidInput(
            "--half-life, --changes, --monotone, --recent-validation and --recent-level read the "
            "rows in time order: add --time-order (the rows must be in time order)"
        )
    if not drift.changes:
        return data
    frame = with_changes(data.frame, drift)
    source = data.feature_source
    if source.startswith("csv:"):
        source = "csv:" + hashlib.sha256("\x1f".join(frame.columns).encode()).hexdigest()[:12]
    return replace(data, frame=frame, feature_source=source)


def fit_fold(
    frame: pd.DataFrame,
    y: np.ndarray,
    *,
    feature_source: str,
    time_ordered_inner: bool,
    config: TrainConfig,
    engine: Engine | None = None,
    drift: DriftOptions | None = None,
    baselines: bool = True,
) -> FoldModels:
    """Fit LightGBM (early stopping + calibration on an inner split) and both baselines (the
    logistic one left out when ``baselines`` is off). With ``drift``: every model weighs the
    rows by recency, and the inner split takes the most recent rows when asked."""
    drift = drift or DriftOptions()
    spec = fit_spec(frame, source=feature_source)
    matrix = spec.encode(frame)
    train, valid = split_rows(
        y,
        fraction=VALID_FRACTION,
        time_ordered=time_ordered_inner or drift.recent_validation,
        seed=config.seed,
    )
    weight = recency_weights(len(y), drift.half_life) if drift.half_life is not None else None
    prior = None
    if config.points_prior:
        inputs = points_inputs(frame.iloc[train])
        prior = fit_points_prior(
            inputs.mapping,
            points_score(inputs),
            y[train],
            strength=config.points_prior_strength,
            weight=None if weight is None else weight[train],
        )
    fit = fit_lead_score(
        matrix[train],
        y[train],
        matrix[valid],
        y[valid],
        spec=spec,
        config=config,
        engine=engine,
        weight=None if weight is None else weight[train],
        monotone=prior_monotone(
            prior, spec.names, monotone_vector(spec.names, spec.categorical_indices, drift)
        ),
        prior=prior,
    )
    if drift.recent_level is not None:
        fit = with_recent_level(fit, matrix, y, drift.recent_level)
    logistic = LogisticBaseline(spec, seed=config.seed)
    if baselines:
        logistic.fit(matrix, y, weight)
    return FoldModels(spec=spec, fit=fit, logistic=logistic, points=fit_points(frame, y, weight))


def with_recent_level(fit: FitResult, matrix: np.ndarray, y: np.ndarray, rows: int) -> FitResult:
    """``fit`` with its calibrator shifted (log-odds) so the mean probability of the newest
    ``rows`` of the fitted rows (``matrix``, ``y``, in time order) equals their observed rate;
    the cut-offs follow the shifted scores of the validation rows."""
    if rows > len(y):
        raise InvalidInput(f"--recent-level {rows}: more rows than the {len(y)} fitted")
    model = fit.model
    recent = model.probability(matrix[-rows:])
    shift = level_shift(recent, float(np.mean(y[-rows:])), rows=rows)
    calibrator = replace(model.calibrator, shift=model.calibrator.shift + shift)
    cutoffs = choose_cutoffs(100.0 * calibrator.apply(fit.valid_raw))
    shifted = replace(model, calibrator=calibrator, cutoffs=cutoffs)
    return replace(fit, model=shifted, calibration=replace(fit.calibration, calibrator=calibrator))


def predict_fold(
    models: FoldModels, frame: pd.DataFrame, y: np.ndarray, *, baselines: bool = True
) -> Predictions:
    matrix = models.spec.encode(frame)
    raw = models.fit.model.raw_probability(matrix)
    return Predictions(
        y=y,
        model=models.fit.model.calibrator.apply(raw),
        uncalibrated=raw,
        logistic=models.logistic.predict(matrix) if baselines else np.full(len(y), np.nan),
        points=models.points.apply(points_score(points_inputs(frame))),
    )


def evaluate_cv(
    data: TrainingData,
    *,
    config: TrainConfig,
    folds: int = 5,
    engine: Engine | None = None,
    drift: DriftOptions | None = None,
) -> Comparison:
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
    parts = []
    for fit_rows, test_rows in splitter.split(np.zeros(data.rows), data.y):
        models = fit_fold(
            data.frame.iloc[fit_rows],
            data.y[fit_rows],
            feature_source=data.feature_source,
            time_ordered_inner=False,
            config=config,
            engine=engine,
            drift=drift,
        )
        parts.append(predict_fold(models, data.frame.iloc[test_rows], data.y[test_rows]))
    return compare("cv", folds, Predictions.concat(parts), models.points.mapping)


def evaluate_walk_forward(
    data: TrainingData,
    *,
    config: TrainConfig,
    window: int,
    step: int,
    engine: Engine | None = None,
    drift: DriftOptions | None = None,
    on_step: Callable[[int, Predictions], None] | None = None,
    baselines: bool = True,
) -> Comparison:
    """Train on rows [s - window, s), score [s, s + step), for s = window, window + step, ...

    ``on_step(i, pooled)`` is called after step i with the predictions pooled so far (a tuner
    reports them and may stop the walk by raising); ``baselines`` off skips the logistic model
    (its metrics are then NaN)."""
    parts: list[Predictions] = []
    mapping = "none"
    for start in range(window, data.rows, step):
        fit_rows = slice(start - window, start)
        test_rows = slice(start, min(start + step, data.rows))
        y_fit = data.y[fit_rows]
        if y_fit.min() == y_fit.max():
            continue
        models = fit_fold(
            data.frame.iloc[fit_rows],
            y_fit,
            feature_source=data.feature_source,
            time_ordered_inner=False,
            config=config,
            engine=engine,
            drift=drift,
            baselines=baselines,
        )
        mapping = models.points.mapping
        parts.append(
            predict_fold(models, data.frame.iloc[test_rows], data.y[test_rows], baselines=baselines)
        )
        if on_step is not None:
            on_step(len(parts) - 1, Predictions.concat(parts))
    return compare("walk_forward", len(parts), Predictions.concat(parts), mapping)
