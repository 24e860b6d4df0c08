"""The lead-score model: LightGBM + calibrator + cut-offs + feature spec, saved without pickle.

Score = 100 × calibrated probability (so a score reads as "percent chance to convert").
Segments (rule, chosen on the held-out validation rows): **hot** = the top decile of validation
scores, **warm** = the next three deciles, **cold** = the rest. The cut-offs are stored as score
thresholds, so segment sizes follow the data the model was validated on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from optimizer.models.calibration import CalibrationChoice, Calibrator, choose_calibrator
from optimizer.models.encoding import FeatureSpec
from optimizer.models.engine import Engine, LocalEngine, fit_booster
from optimizer.models.points_prior import REASON, PointsPrior

BOOSTER_FILE = "booster.txt"
META_FILE = "lead_score.json"
FORMAT_VERSION = 1
HOT_QUANTILE = 0.90
WARM_QUANTILE = 0.60
CUTOFF_RULE = "hot = top decile of validation scores, warm = next three deciles, cold = rest"


@dataclass(frozen=True)
class TrainConfig:
    """LightGBM settings (logged to MLflow as parameters)."""

    learning_rate: float = 0.03
    num_leaves: int = 15
    min_child_samples: int = 100
    feature_fraction: float = 0.7
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 10.0
    cat_smooth: float = 20.0
    max_rounds: int = 2000
    early_stopping_rounds: int = 100
    parsimony_tolerance: float = 0.001
    # The points model as the trees' starting point, their margin weighted
    # positives / (positives + points_prior_strength) (see optimizer.models.points_prior).
    points_prior: bool = True
    points_prior_strength: float = 100.0
    num_threads: int = 0
    seed: int = 0

    def lgb_params(self) -> dict[str, object]:
        return {
            "objective": "binary",
            "metric": "binary_logloss",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "cat_smooth": self.cat_smooth,
            "num_threads": self.num_threads,
            "seed": self.seed,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }


@dataclass(frozen=True)
class Cutoffs:
    hot: float
    warm: float
    rule: str = CUTOFF_RULE

    def segment(self, score: np.ndarray) -> np.ndarray:
        return np.where(score >= self.hot, "hot", np.where(score >= self.warm, "warm", "cold"))


def choose_cutoffs(validation_scores: np.ndarray) -> Cutoffs:
    hot = float(np.quantile(validation_scores, HOT_QUANTILE))
    warm = float(np.quantile(validation_scores, WARM_QUANTILE))
    return Cutoffs(hot=hot, warm=min(warm, hot))


Reason = tuple[str, float]  # (feature, contribution in log-odds)


def top_reasons(names: Sequence[str], contrib: np.ndarray, top_k: int) -> tuple[Reason, ...]:
    """The ``top_k`` features with the largest absolute contribution (zero ones left out)."""
    order = np.argsort(-np.abs(contrib), kind="stable")[:top_k]
    return tuple((names[i], float(contrib[i])) for i in order if contrib[i] != 0.0)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


@dataclass(frozen=True)
class LeadScoreModel:
    booster: lgb.Booster
    spec: FeatureSpec
    calibrator: Calibrator
    cutoffs: Cutoffs
    best_iteration: int
    prior: PointsPrior | None = None

    def raw_probability(self, matrix: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """Uncalibrated probabilities: the trees' (with a prior: the prior's log-odds plus the
        trees' margin times its ``shrink``)."""
        if self.prior is None:
            return np.asarray(
                self.booster.predict(
                    matrix, num_iteration=self.best_iteration, num_threads=num_threads
                ),
                dtype=np.float64,
            )
        trees = np.asarray(
            self.booster.predict(
                matrix, num_iteration=self.best_iteration, raw_score=True, num_threads=num_threads
            ),
            dtype=np.float64,
        )
        return _sigmoid(self.prior.margin(self.spec, matrix) + self.prior.shrink * trees)

    def probability(self, matrix: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        return self.calibrator.apply(self.raw_probability(matrix, num_threads=num_threads))

    def contributions(self, matrix: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """The trees' Tree SHAP values in log-odds (rows × features; the bias column dropped;
        with a prior, times its ``shrink``)."""
        contrib = np.asarray(
            self.booster.predict(
                matrix,
                num_iteration=self.best_iteration,
                pred_contrib=True,
                num_threads=num_threads,
            )
        )
        shrink = 1.0 if self.prior is None else self.prior.shrink
        return contrib[:, :-1] * shrink

    def explained(
        self, matrix: np.ndarray, *, num_threads: int = 0
    ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """(uncalibrated probability, each reason's log-odds, the reasons' names) from one
        prediction: the features' Tree SHAP values and, with a prior, the prior's slope ×
        points as the reason ``points`` (the rest of the log-odds is the bias)."""
        contrib = np.asarray(
            self.booster.predict(
                matrix,
                num_iteration=self.best_iteration,
                pred_contrib=True,
                num_threads=num_threads,
            )
        )
        if self.prior is None:
            return _sigmoid(contrib.sum(axis=1)), contrib[:, :-1], self.spec.names
        shrink = self.prior.shrink
        points = self.prior.points(self.spec, matrix)
        margin = shrink * contrib.sum(axis=1) + self.prior.slope * points + self.prior.intercept
        reasons = np.column_stack([shrink * contrib[:, :-1], self.prior.slope * points])
        return _sigmoid(margin), reasons, (*self.spec.names, REASON)

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        return self.probability(self.spec.encode(frame))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / BOOSTER_FILE), num_iteration=self.best_iteration)
        meta = {
            "format_version": FORMAT_VERSION,
            "spec": self.spec.to_json(),
            "calibrator": self.calibrator.to_json(),
            "cutoffs": asdict(self.cutoffs),
            "best_iteration": self.best_iteration,
            "prior": None if self.prior is None else self.prior.to_json(),
        }
        (directory / META_FILE).write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: Path) -> LeadScoreModel:
        meta = json.loads((directory / META_FILE).read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"lead-score model in {directory} has format {meta.get('format_version')!r} "
                f"({FORMAT_VERSION} expected)"
            )
        booster = lgb.Booster(model_file=str(directory / BOOSTER_FILE))
        return cls(
            booster=booster,
            spec=FeatureSpec.from_json(meta["spec"]),
            calibrator=Calibrator.from_json(meta["calibrator"]),
            cutoffs=Cutoffs(**meta["cutoffs"]),
            best_iteration=int(booster.current_iteration()),
            prior=None if meta.get("prior") is None else PointsPrior.from_json(meta["prior"]),
        )


@dataclass(frozen=True)
class FitResult:
    model: LeadScoreModel
    calibration: CalibrationChoice
    valid_raw: np.ndarray  # uncalibrated validation probabilities
    engine: str = "local"  # where the booster was trained (see optimizer.models.engine)
    workers: int = 1


def parsimonious_iteration(losses: list[float], *, tolerance: float) -> int:
    """The fewest trees whose validation loss is within ``tolerance`` (relative) of the best.

    The loss curve is flat near its minimum; the trees that buy the last 0.1% of log loss cost
    as much at scoring time as the others (pool throughput is proportional to the tree count).
    """
    if not losses:
        return 1
    target = min(losses) * (1.0 + tolerance)
    return next(i for i, loss in enumerate(losses, start=1) if loss <= target)


def _safe_name(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", name)


def fit_lead_score(
    train_x: np.ndarray,
    train_y: np.ndarray,
    valid_x: np.ndarray,
    valid_y: np.ndarray,
    *,
    spec: FeatureSpec,
    config: TrainConfig,
    engine: Engine | None = None,
    weight: np.ndarray | None = None,
    monotone: Sequence[int] | None = None,
    prior: PointsPrior | None = None,
) -> FitResult:
    """Train (in this process, or on ``engine``'s Dask cluster) with the validation rows' loss
    curve choosing the trees, then calibrate and cut on them (always here, on the local
    booster). ``weight``: per training row; ``monotone``: LightGBM's monotone constraints, one
    per column of ``spec``; ``prior``: the points model the trees start from (its log-odds the
    booster's initial score on both row sets)."""
    names = [f"{i}_{_safe_name(n)}"[:60] for i, n in enumerate(spec.names)]
    params = config.lgb_params()
    if monotone is not None and any(monotone):
        params["monotone_constraints"] = list(monotone)
    fit = fit_booster(
        engine or LocalEngine(),
        params,
        (train_x, train_y),
        (valid_x, valid_y),
        rounds=config.max_rounds,
        early_stopping_rounds=config.early_stopping_rounds,
        feature_name=names,
        categorical=list(spec.categorical_indices),
        weight=weight,
        init_score=None if prior is None else prior.margin(spec, train_x),
        valid_init_score=None if prior is None else prior.margin(spec, valid_x),
    )
    booster = fit.booster
    best = parsimonious_iteration(list(fit.valid_loss), tolerance=config.parsimony_tolerance)
    if prior is None:
        valid_raw = np.asarray(booster.predict(valid_x, num_iteration=best), dtype=np.float64)
    else:
        trees = np.asarray(booster.predict(valid_x, num_iteration=best, raw_score=True))
        valid_raw = _sigmoid(prior.margin(spec, valid_x) + prior.shrink * trees)
    choice = choose_calibrator(valid_raw, valid_y)
    cutoffs = choose_cutoffs(100.0 * choice.calibrator.apply(valid_raw))
    model = LeadScoreModel(
        booster=booster,
        spec=spec,
        calibrator=choice.calibrator,
        cutoffs=cutoffs,
        best_iteration=best,
        prior=prior,
    )
    return FitResult(
        model=model, calibration=choice, valid_raw=valid_raw, engine=fit.engine, workers=fit.workers
    )
