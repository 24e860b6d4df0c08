"""Uplift models on LightGBM: the effect of a treatment (a text) on an outcome, per lead.

Three meta-learners, for a binary outcome (``visit``, a reply) or a continuous one (revenue):

- ``two_model`` (T-learner): one model on treated rows, one on control rows;
  uplift = m1(x) - m0(x).
- ``class_transformation``: binary outcome — z = 1 when (treated and y = 1) or (control and
  y = 0); with a treated share of 1/2, uplift = 2 P(z = 1 | x) - 1 (Jaskowski & Jaroszewicz,
  2012; scikit-uplift's ``ClassTransformation``). Continuous outcome — the transformed-outcome
  regression: y* = (y - m(x)) (t - p) / (p (1 - p)) has E[y* | x] = uplift for any treated
  share p and any baseline m that ignores t (Athey & Imbens, 2015); m is a cross-fitted
  E[y | x], which takes the base-rate variance out of y*.
- ``x_learner`` (Künzel et al., 2019): the two models above impute each row's effect
  (treated: y - m0(x); control: m1(x) - y); a model per group learns the imputed effects;
  uplift = p tau0(x) + (1 - p) tau1(x), with p the (randomised, constant) treated share.

Every booster early-stops on a seeded 20 % of its own training rows. Saved as LightGBM text
files plus one JSON file (no pickle).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import lightgbm as lgb
import numpy as np

from optimizer.models.encoding import FeatureSpec

Learner = Literal["two_model", "class_transformation", "x_learner"]
Outcome = Literal["binary", "continuous"]
LEARNERS: tuple[Learner, ...] = ("two_model", "class_transformation", "x_learner")
OUTCOMES: tuple[Outcome, ...] = ("binary", "continuous")
META_FILE = "uplift.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class UpliftConfig:
    """LightGBM settings shared by every booster of a learner (logged to MLflow)."""

    learning_rate: float = 0.03
    num_leaves: int = 15
    min_child_samples: int = 100
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 10.0
    max_rounds: int = 1000
    early_stopping_rounds: int = 50
    valid_fraction: float = 0.2
    num_threads: int = 0
    seed: int = 0

    def lgb_params(self, objective: str, seed: int) -> dict[str, object]:
        return {
            "objective": objective,
            "metric": "binary_logloss" if objective == "binary" else "l2",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "num_threads": self.num_threads,
            "seed": seed,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }


def fit_booster(
    x: np.ndarray,
    target: np.ndarray,
    *,
    objective: Literal["binary", "regression"],
    categorical: tuple[int, ...],
    config: UpliftConfig,
    seed: int,
    weight: np.ndarray | None = None,
) -> lgb.Booster:
    """One LightGBM model, early-stopped on a seeded ``valid_fraction`` of the rows (each row
    weighted by ``weight`` when given, in training and in the early-stopping loss)."""
    rng = np.random.default_rng(seed)
    n = len(target)
    order = rng.permutation(n)
    n_valid = max(1, int(round(n * config.valid_fraction)))
    valid, train = order[:n_valid], order[n_valid:]
    train_set = lgb.Dataset(
        x[train],
        label=target[train],
        weight=None if weight is None else weight[train],
        categorical_feature=list(categorical),
        free_raw_data=True,
    )
    valid_set = lgb.Dataset(
        x[valid],
        label=target[valid],
        weight=None if weight is None else weight[valid],
        reference=train_set,
    )
    booster = lgb.train(
        config.lgb_params(objective, seed),
        train_set,
        num_boost_round=config.max_rounds,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    # Keep only the chosen trees, so that predict and save agree without num_iteration.
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


def _cross_fitted_mean(
    x: np.ndarray,
    y: np.ndarray,
    categorical: tuple[int, ...],
    config: UpliftConfig,
    seed: int,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """E[y | x] ignoring the treatment, each half predicted by a model fitted on the other half.

    Subtracting it from y leaves E[y* | x] = uplift unchanged (the treatment is independent of
    x and of the baseline) and removes the base-rate variance that swamps a revenue effect.
    """
    order = np.random.default_rng(seed).permutation(len(y))
    halves = (order[: len(y) // 2], order[len(y) // 2 :])
    out = np.empty(len(y))
    for k, (fit_rows, score_rows) in enumerate((halves, halves[::-1])):
        model = fit_booster(
            x[fit_rows],
            y[fit_rows],
            objective="regression",
            categorical=categorical,
            config=config,
            seed=seed + k,
            weight=None if weight is None else weight[fit_rows],
        )
        out[score_rows] = _predict(model, x[score_rows], config.num_threads)
    return out


def _predict(booster: lgb.Booster, x: np.ndarray, num_threads: int = 0) -> np.ndarray:
    return np.asarray(booster.predict(x, num_threads=num_threads), dtype=np.float64)


@dataclass(frozen=True)
class UpliftModel:
    """A fitted learner: its boosters by role, the feature spec and the treated share."""

    learner: Learner
    outcome: Outcome
    spec: FeatureSpec
    treated_share: float
    boosters: dict[str, lgb.Booster] = field(repr=False)
    config: UpliftConfig = UpliftConfig()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Estimated uplift per row (outcome units: probability points, or revenue)."""
        b, threads = self.boosters, self.config.num_threads
        if self.learner == "two_model":
            return _predict(b["treated"], x, threads) - _predict(b["control"], x, threads)
        if self.learner == "class_transformation":
            if self.outcome == "binary":
                return 2.0 * _predict(b["transformed"], x, threads) - 1.0
            return _predict(b["transformed"], x, threads)
        p = self.treated_share
        return p * _predict(b["effect_control"], x, threads) + (1.0 - p) * _predict(
            b["effect_treated"], x, threads
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for role, booster in self.boosters.items():
            booster.save_model(str(directory / f"{role}.txt"))
        meta = {
            "format_version": FORMAT_VERSION,
            "learner": self.learner,
            "outcome": self.outcome,
            "treated_share": self.treated_share,
            "roles": sorted(self.boosters),
            "spec": self.spec.to_json(),
            "config": asdict(self.config),
        }
        (directory / META_FILE).write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: Path) -> UpliftModel:
        meta = json.loads((directory / META_FILE).read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"uplift model in {directory} has format {meta.get('format_version')!r} "
                f"({FORMAT_VERSION} expected)"
            )
        return cls(
            learner=meta["learner"],
            outcome=meta["outcome"],
            spec=FeatureSpec.from_json(meta["spec"]),
            treated_share=float(meta["treated_share"]),
            boosters={
                role: lgb.Booster(model_file=str(directory / f"{role}.txt"))
                for role in meta["roles"]
            },
            config=UpliftConfig(**meta["config"]),
        )


def _check(
    y: np.ndarray,
    treatment: np.ndarray,
    learner: str,
    outcome: str,
    weight: np.ndarray | None = None,
) -> None:
    if learner not in LEARNERS:
        raise ValueError(f"learner {learner!r} is not one of {', '.join(LEARNERS)}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if len(y) != len(treatment):
        raise ValueError(f"{len(y)} outcomes but {len(treatment)} treatment flags")
    if not np.isin(treatment, (0, 1)).all():
        raise ValueError("treatment flags must be 0 (control) or 1 (treated)")
    if not 0 < int(treatment.sum()) < len(treatment):
        raise ValueError("both a treated and a control group are needed")
    if not np.isfinite(y).all():
        raise ValueError("outcomes must be finite numbers")
    if weight is not None and (
        len(weight) != len(y) or not np.isfinite(weight).all() or not (weight > 0).all()
    ):
        raise ValueError("weights must be one finite positive number per row")
    if outcome == "binary" and not np.isin(y, (0, 1)).all():
        raise ValueError("a binary outcome must be 0 or 1")


def fit_uplift(
    x: np.ndarray,
    y: np.ndarray,
    treatment: np.ndarray,
    *,
    learner: Learner,
    outcome: Outcome,
    spec: FeatureSpec,
    config: UpliftConfig,
    weight: np.ndarray | None = None,
) -> UpliftModel:
    """Fit ``learner`` on a randomised sample (rows of ``x``, outcome ``y``, flags 0/1).

    Each booster gets its own seed derived from ``config.seed`` (so the learners are
    reproducible and the treated and control models do not share their bagging draws).

    ``weight``: per-row weights, the inverse of the probability each row had of its arm when
    the arms were drawn with unequal (or, across experiments, different) probabilities. The
    treated share ``p`` the learners use is then the weighted share: with inverse-propensity
    weights it is about 1/2, which is what the binary class transformation assumes.
    """
    y = np.asarray(y, dtype=np.float64)
    treatment = np.asarray(treatment, dtype=np.int64)
    if weight is not None:
        weight = np.asarray(weight, dtype=np.float64)
    _check(y, treatment, learner, outcome, weight)
    cat = spec.categorical_indices
    objective: Literal["binary", "regression"] = "binary" if outcome == "binary" else "regression"
    treated, control = treatment == 1, treatment == 0
    weights = np.ones(len(y)) if weight is None else weight
    p = float(weights[treated].sum() / weights.sum())
    seed = config.seed

    def booster(rows: np.ndarray, target: np.ndarray, obj: str, offset: int) -> lgb.Booster:
        return fit_booster(
            x[rows],
            target,
            objective="binary" if obj == "binary" else "regression",
            categorical=cat,
            config=config,
            seed=seed + offset,
            weight=None if weight is None else weight[rows],
        )

    boosters: dict[str, lgb.Booster] = {}
    if learner in ("two_model", "x_learner"):
        boosters["treated"] = booster(treated, y[treated], objective, 1)
        boosters["control"] = booster(control, y[control], objective, 2)
    if learner == "class_transformation":
        everyone = np.ones(len(y), dtype=bool)
        if outcome == "binary":
            z = (y == treatment).astype(np.float64)
            boosters["transformed"] = booster(everyone, z, "binary", 3)
        else:
            baseline = _cross_fitted_mean(x, y, cat, config, seed + 7, weight)
            y_star = (y - baseline) * (treatment - p) / (p * (1.0 - p))
            boosters["transformed"] = booster(everyone, y_star, "regression", 3)
    if learner == "x_learner":
        m1 = _predict(boosters["treated"], x[control], config.num_threads)
        m0 = _predict(boosters["control"], x[treated], config.num_threads)
        boosters["effect_treated"] = booster(treated, y[treated] - m0, "regression", 4)
        boosters["effect_control"] = booster(control, m1 - y[control], "regression", 5)
        # The outcome models served only to impute effects; keep them (small) for inspection.
    return UpliftModel(
        learner=learner,
        outcome=outcome,
        spec=spec,
        treated_share=p,
        boosters=boosters,
        config=config,
    )


def fit_response(
    x: np.ndarray,
    y: np.ndarray,
    treatment: np.ndarray,
    *,
    outcome: Outcome,
    spec: FeatureSpec,
    config: UpliftConfig,
) -> lgb.Booster:
    """The response model a team would use without uplift: E[y | x, treated], treated rows only."""
    treated = np.asarray(treatment) == 1
    return fit_booster(
        x[treated],
        np.asarray(y, dtype=np.float64)[treated],
        objective="binary" if outcome == "binary" else "regression",
        categorical=spec.categorical_indices,
        config=config,
        seed=config.seed + 6,
    )


def predict_booster(booster: lgb.Booster, x: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
    return _predict(booster, x, num_threads)
