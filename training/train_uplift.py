"""Train an uplift model, evaluate it beside the response model and random, track it in MLflow.

:func:`evaluate_uplift` (no MLflow): a seeded holdout split (``sklearn``'s
``train_test_split``, so seed 42 and 0.5 give scikit-uplift's tutorial split) and optionally
K-fold cross-fitting; every ranking is scored on the same rows with the same bootstrap draws.
:func:`train_uplift`: the holdout evaluation in an MLflow run (params, metrics, Qini plot,
the model as a pyfunc), registered as ``challenger``, validated on the holdout against the
champion (re-scored on these rows) and the response model's Qini, promoted when better.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import mlflow
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mlflow.models import infer_signature
from sklearn.model_selection import KFold, train_test_split

from optimizer.errors import InvalidInput
from optimizer.features.definitions import ATTRIBUTE_PREFIX
from optimizer.models.encoding import FeatureSpec, fit_spec
from optimizer.models.pyfunc import (
    UPLIFT_ARTIFACT_KEY,
    UPLIFT_CODE,
    UPLIFT_REQUIREMENTS,
    code_paths,
    pinned,
)
from optimizer.models.registry import (
    ValidationRecord,
    client_for,
    load_champion,
    promote,
    record_validation,
    register_model,
)
from optimizer.models.uplift import (
    LEARNERS,
    META_FILE,
    Learner,
    UpliftConfig,
    UpliftModel,
    fit_response,
    fit_uplift,
    predict_booster,
)
from optimizer.models.uplift_metrics import (
    UpliftScores,
    qini_auc_score,
    qini_curve,
    uplift_scores,
)
from optimizer.settings import Settings
from training.train_lead_score import _naive_utc, ensure_experiment
from training.uplift_data import UpliftData

RANKINGS = ("model", "response", "random")
# The holdout rows of a run (features, outcome, treatment, the response model's score), logged
# so that ``optimizer models validate uplift`` can score challenger and champion on them later.
HOLDOUT_ARTIFACT = "holdout/uplift_holdout.parquet"
Y_COLUMN = "__y__"
TREATMENT_COLUMN = "__treatment__"
RESPONSE_COLUMN = "__response__"


@dataclass(frozen=True)
class ScoredRows:
    """One evaluation's rows with every ranking's score (for the plot and the champion)."""

    rows: np.ndarray  # indices into the data
    y: np.ndarray
    treatment: np.ndarray
    model: np.ndarray
    response: np.ndarray
    random: np.ndarray


@dataclass(frozen=True)
class Evaluation:
    mode: Literal["holdout", "cv"]
    folds: int
    model: UpliftScores
    response: UpliftScores
    random: UpliftScores
    scored: ScoredRows
    fold_qini: tuple[float, ...] = ()

    def by_ranking(self) -> dict[str, UpliftScores]:
        return {"model": self.model, "response": self.response, "random": self.random}

    def as_metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for ranking, scores in self.by_ranking().items():
            out.update(scores.as_dict(f"{self.mode}.{ranking}."))
        return out


def _fit_predict(
    data: UpliftData,
    fit_rows: np.ndarray,
    score_rows: np.ndarray,
    *,
    learner: Learner,
    config: UpliftConfig,
) -> tuple[UpliftModel, np.ndarray, np.ndarray]:
    fit_frame = data.frame.iloc[fit_rows]
    spec = fit_spec(fit_frame, source=data.feature_source)
    x_fit = spec.encode(fit_frame)
    x_score = spec.encode(data.frame.iloc[score_rows])
    y, t = data.y[fit_rows], data.treatment[fit_rows]
    weight = None if data.weight is None else data.weight[fit_rows]
    model = fit_uplift(
        x_fit, y, t, learner=learner, outcome=data.outcome, spec=spec, config=config, weight=weight
    )
    response = fit_response(x_fit, y, t, outcome=data.outcome, spec=spec, config=config)
    return model, model.predict(x_score), predict_booster(response, x_score)


def _score_all(
    scored: ScoredRows, *, seed: int, resamples: int
) -> tuple[UpliftScores, UpliftScores, UpliftScores]:
    def one(score: np.ndarray) -> UpliftScores:
        # The same seed for every ranking: the same resampled rows, a paired comparison.
        return uplift_scores(scored.y, score, scored.treatment, seed=seed, resamples=resamples)

    return one(scored.model), one(scored.response), one(scored.random)


def split(data: UpliftData, *, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < test_size < 1:
        raise InvalidInput(f"--test-size {test_size} must be between 0 and 1")
    fit_rows, test_rows = train_test_split(
        np.arange(data.rows), test_size=test_size, random_state=seed
    )
    return np.asarray(fit_rows), np.asarray(test_rows)


def evaluate_holdout(
    data: UpliftData,
    *,
    learner: Learner,
    config: UpliftConfig,
    test_size: float = 0.5,
    resamples: int = 200,
) -> tuple[Evaluation, UpliftModel]:
    """Fit on one part, score the other: the learner, the response model and a random order."""
    _check_learner(learner)
    fit_rows, test_rows = split(data, test_size=test_size, seed=config.seed)
    model, uplift, response = _fit_predict(
        data, fit_rows, test_rows, learner=learner, config=config
    )
    scored = ScoredRows(
        rows=test_rows,
        y=data.y[test_rows],
        treatment=data.treatment[test_rows],
        model=uplift,
        response=response,
        random=np.random.default_rng(config.seed).random(len(test_rows)),
    )
    m, r, rnd = _score_all(scored, seed=config.seed, resamples=resamples)
    return Evaluation("holdout", 1, m, r, rnd, scored), model


def evaluate_cv(
    data: UpliftData,
    *,
    learner: Learner,
    config: UpliftConfig,
    folds: int = 5,
    resamples: int = 200,
) -> Evaluation:
    """K-fold cross-fitting: every row scored by models that did not see it; metrics on the
    pooled out-of-fold scores (and the Qini of each fold, for its spread)."""
    _check_learner(learner)
    _check_folds(folds)
    n = data.rows
    uplift, response = np.empty(n), np.empty(n)
    fold_qini = []
    splitter = KFold(n_splits=folds, shuffle=True, random_state=config.seed)
    for k, (fit_rows, score_rows) in enumerate(splitter.split(np.arange(n))):
        fold_config = UpliftConfig(**{**asdict(config), "seed": config.seed + 100 * k})
        _, uplift[score_rows], response[score_rows] = _fit_predict(
            data, fit_rows, score_rows, learner=learner, config=fold_config
        )
        fold_qini.append(
            qini_auc_score(data.y[score_rows], uplift[score_rows], data.treatment[score_rows])
        )
    scored = ScoredRows(
        rows=np.arange(n),
        y=data.y,
        treatment=data.treatment,
        model=uplift,
        response=response,
        random=np.random.default_rng(config.seed).random(n),
    )
    m, r, rnd = _score_all(scored, seed=config.seed, resamples=resamples)
    return Evaluation("cv", folds, m, r, rnd, scored, tuple(fold_qini))


def _check_folds(folds: int | None) -> None:
    if folds is not None and not 2 <= folds <= 20:
        raise InvalidInput(f"--folds {folds} must be between 2 and 20")


def _check_learner(learner: str) -> None:
    if learner not in LEARNERS:
        raise InvalidInput(f"--learner {learner!r} is not one of {', '.join(LEARNERS)}")


def qini_figure(evaluation: Evaluation, *, title: str) -> Figure:
    fig = Figure(figsize=(6.5, 5.0), dpi=90)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    s = evaluation.scored
    perfect = s.y * s.treatment - s.y * (1 - s.treatment)
    for label, score, style in (
        ("uplift model", s.model, "-"),
        ("response model", s.response, "--"),
        ("random", s.random, ":"),
        ("perfect", perfect, "-."),
    ):
        x, q = qini_curve(s.y, score, s.treatment)
        ax.plot(x / len(s.y), q, linestyle=style, label=label)
    ax.set_xlabel("share of rows targeted (by descending score)")
    ax.set_ylabel("incremental outcomes (Qini)")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return fig


@dataclass(frozen=True)
class UpliftOutcome:
    run_id: str
    model_name: str
    version: str | None
    promoted: bool
    promotion_reason: str
    learner: str
    holdout: Evaluation
    cv: Evaluation | None
    champion_version: str | None
    champion_qini: float | None
    seconds: float

    def metrics(self) -> dict[str, float]:
        out = self.holdout.as_metrics()
        if self.cv is not None:
            out.update(self.cv.as_metrics())
        out["train_seconds"] = self.seconds
        return out


def score_if_comparable(
    model: UpliftModel, frame: pd.DataFrame, *, feature_source: str, outcome: str
) -> np.ndarray | None:
    """``model``'s uplift on ``frame``, or None when it reads other features or predicts
    another kind of outcome (a lead attribute it knew and the rows lack is a missing value)."""
    if model.spec.source != feature_source or model.outcome != outcome:
        return None
    absent = model.spec.missing_columns(list(frame.columns))
    if [c for c in absent if not c.startswith(ATTRIBUTE_PREFIX)]:
        return None
    return model.predict(model.spec.encode(frame.assign(**dict.fromkeys(absent, np.nan))))


def _champion_qini(
    settings: Settings, name: str, data: UpliftData, holdout: Evaluation
) -> tuple[str | None, float | None]:
    """The champion's Qini on this holdout (NaN when it reads other features)."""
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_champion(name, tracking_uri=settings.resolved_mlflow_uri(), dst_dir=Path(tmp))
        if loaded is None:
            return None, None
        meta = next(iter(sorted(loaded.local_dir.rglob(META_FILE))), None)
        if meta is None:
            return loaded.version, float("nan")
        champion = UpliftModel.load(meta.parent)
    score = score_if_comparable(
        champion,
        data.frame.iloc[holdout.scored.rows],
        feature_source=data.feature_source,
        outcome=data.outcome,
    )
    if score is None:
        return loaded.version, float("nan")
    return loaded.version, qini_auc_score(holdout.scored.y, score, holdout.scored.treatment)


def train_uplift(
    data: UpliftData,
    *,
    settings: Settings,
    learner: Learner,
    config: UpliftConfig,
    test_size: float = 0.5,
    folds: int | None = None,
    resamples: int = 200,
    register: bool = True,
    promote_if_better: bool = True,
) -> UpliftOutcome:
    """Evaluate, log to MLflow, register ``challenger``, validate and (by default) promote."""
    started = time.perf_counter()
    _check_learner(learner)
    _check_folds(folds)
    split(data, test_size=test_size, seed=config.seed)  # refuses a bad test size at once
    name = settings.uplift_model_name
    holdout, model = evaluate_holdout(
        data, learner=learner, config=config, test_size=test_size, resamples=resamples
    )
    cv = None
    if folds is not None:
        cv = evaluate_cv(data, learner=learner, config=config, folds=folds, resamples=resamples)
    experiment_id = ensure_experiment(settings, name)
    version, promoted, reason = None, False, "not registered"
    champion_version, champion_qini = None, None
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{name}:{data.name}") as run:
        mlflow.set_tags({"model": name, "learner": learner, "feature_source": data.feature_source})
        mlflow.log_params(_params(data, config, learner, test_size, folds, resamples, model.spec))
        if data.warnings:
            mlflow.log_text("\n".join(data.warnings), "warnings.txt")
        fig = qini_figure(holdout, title=f"Qini on the holdout: {learner} ({data.target})")
        mlflow.log_figure(fig, "plots/qini.png")
        if cv is not None:
            mlflow.log_figure(
                qini_figure(cv, title=f"Qini, {cv.folds}-fold out-of-fold: {learner}"),
                "plots/qini_cv.png",
            )
        with tempfile.TemporaryDirectory() as tmp:
            holdout_file = Path(tmp) / Path(HOLDOUT_ARTIFACT).name
            data.frame.iloc[holdout.scored.rows].reset_index(drop=True).assign(
                **{
                    Y_COLUMN: holdout.scored.y,
                    TREATMENT_COLUMN: holdout.scored.treatment,
                    RESPONSE_COLUMN: holdout.scored.response,
                }
            ).to_parquet(holdout_file)
            mlflow.log_artifact(str(holdout_file), artifact_path="holdout")
            model_dir = Path(tmp) / "uplift_model"
            model.save(model_dir)
            example = _naive_utc(data.frame.iloc[holdout.scored.rows[:5]])
            example = example[[c.name for c in model.spec.columns]]
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(UPLIFT_CODE),
                artifacts={UPLIFT_ARTIFACT_KEY: str(model_dir)},
                code_paths=code_paths(),
                signature=infer_signature(example, model.predict(model.spec.encode(example))),
                input_example=example,
                pip_requirements=pinned(UPLIFT_REQUIREMENTS),
            )
        seconds = time.perf_counter() - started
        metrics = {**holdout.as_metrics(), **({} if cv is None else cv.as_metrics())}
        mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        mlflow.log_metric("train_seconds", seconds)
        if register:
            client = client_for(settings.resolved_mlflow_uri())
            champion_version, champion_qini = _champion_qini(settings, name, data, holdout)
            version = register_model(
                run.info.run_id,
                info.model_uri,
                name,
                client=client,
                tags={
                    "learner": learner,
                    "outcome": data.outcome,
                    "feature_source": data.feature_source,
                    "feature_digest": model.spec.digest(),
                    "data_name": data.name,
                    "data_digest": data.digest,
                    "target": data.target,
                    "weighted": str(data.weight is not None).lower(),
                    "holdout_qini": f"{holdout.model.qini.value:.6f}",
                    "response_qini": f"{holdout.response.qini.value:.6f}",
                },
            )
            record_validation(
                name,
                ValidationRecord(
                    metric="qini",
                    challenger_version=version,
                    challenger=holdout.model.qini.value,
                    champion_version=champion_version,
                    champion=champion_qini,
                    baseline=holdout.response.qini.value,
                    comparable=champion_qini is not None and bool(np.isfinite(champion_qini)),
                ),
                client=client,
            )
            reason = "registered as challenger"
            if promote_if_better:
                decision = promote(
                    name, client=client, margin=settings.promote_margin, metric="qini"
                )
                promoted, reason = decision.promoted, decision.reason
            mlflow.set_tags({"registered_version": version, "promoted": str(promoted)})
    return UpliftOutcome(
        run_id=run.info.run_id,
        model_name=name,
        version=version,
        promoted=promoted,
        promotion_reason=reason,
        learner=learner,
        holdout=holdout,
        cv=cv,
        champion_version=champion_version,
        champion_qini=champion_qini,
        seconds=round(time.perf_counter() - started, 2),
    )


def _params(
    data: UpliftData,
    config: UpliftConfig,
    learner: str,
    test_size: float,
    folds: int | None,
    resamples: int,
    spec: FeatureSpec,
) -> dict[str, object]:
    params: dict[str, object] = {f"lgb.{k}": v for k, v in asdict(config).items()}
    params.update(
        {
            "learner": learner,
            "outcome": data.outcome,
            "data.name": data.name,
            "data.source": data.source,
            "data.rows": data.rows,
            "data.digest": data.digest,
            "data.target": data.target,
            "data.treatment": data.treatment_column,
            "data.control": data.control,
            "data.treated": data.treated,
            "data.treated_share": round(data.treated_share, 6),
            "data.weighted": data.weight is not None,
            "data.weighted_treated_share": round(data.weighted_treated_share, 6),
            "features": len(spec.columns),
            "test_size": test_size,
            "folds": folds or 0,
            "bootstrap.resamples": resamples,
            "seed": config.seed,
        }
    )
    return params
