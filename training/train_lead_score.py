"""Train the lead-score model, track the run in MLflow and register it as ``challenger``.

One run: holdout split -> LightGBM + calibration + cut-offs and both baselines on the same rows
-> (optionally) cv or walk-forward evaluation -> params, metrics, data set, plots, the holdout
rows (for ``validate``) and the model (pyfunc, with signature and input example) -> registry.
A run that raises is ended with status FAILED by MLflow; bad input is refused before a run
starts.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
import numpy as np
import pandas as pd
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo
from mlflow.types.utils import _infer_schema

from optimizer.errors import InvalidInput
from optimizer.models.calibration import CalibrationChoice
from optimizer.models.drift import DriftOptions
from optimizer.models.engine import Engine, LocalEngine
from optimizer.models.lead_score import Cutoffs, LeadScoreModel, TrainConfig
from optimizer.models.mlflow_store import artifact_location, ensure_store
from optimizer.models.pyfunc import (
    ARTIFACT_KEY,
    BOOSTER_REQUIREMENTS,
    LEAD_SCORE_CODE,
    LEAD_SCORE_REQUIREMENTS,
    code_paths,
    lead_score_output,
    pinned,
)
from optimizer.models.registry import client_for, register_model
from optimizer.settings import Settings
from training import plots
from training.datasets import TrainingData
from training.evaluate import (
    TEST_FRACTION,
    Comparison,
    compare,
    evaluate_cv,
    evaluate_walk_forward,
    fit_fold,
    predict_fold,
    split_rows,
    with_drift_features,
)

EVALUATIONS = ("holdout", "cv", "walk-forward")
HOLDOUT_ARTIFACT = "holdout/holdout.parquet"
LABEL_COLUMN = "__label__"


@dataclass(frozen=True)
class TrainOutcome:
    run_id: str
    model_name: str
    version: str | None
    holdout: Comparison
    evaluation: Comparison | None
    calibration: CalibrationChoice
    cutoffs: Cutoffs
    best_iteration: int
    rows: int
    features: int
    seconds: float
    warnings: tuple[str, ...]

    def metrics(self) -> dict[str, float]:
        out = self.holdout.as_metrics()
        if self.evaluation is not None:
            out.update(self.evaluation.as_metrics())
        out["calibration.brier_isotonic_crossfit"] = self.calibration.brier_isotonic
        out["calibration.brier_sigmoid_crossfit"] = self.calibration.brier_sigmoid
        out["calibration.brier_raw_validation"] = self.calibration.brier_raw
        out["best_iteration"] = float(self.best_iteration)
        out["train_seconds"] = self.seconds
        return out


def ensure_experiment(settings: Settings, name: str) -> str:
    """The experiment's id, creating it when absent (artifacts under the project's var dir, or
    the MLflow server's own artifact store)."""
    ensure_store(settings.resolved_mlflow_uri())
    mlflow.set_tracking_uri(settings.resolved_mlflow_uri())
    mlflow.set_registry_uri(settings.resolved_mlflow_uri())
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = artifact_location(settings.resolved_mlflow_uri(), settings.mlflow_artifact_root())
    return str(mlflow.create_experiment(name, artifact_location=location))


def _check(data: TrainingData, evaluate: str, window: int, step: int) -> None:
    if evaluate not in EVALUATIONS:
        raise InvalidInput(f"--evaluate {evaluate!r} is not one of {', '.join(EVALUATIONS)}")
    if evaluate == "walk-forward":
        if window < 100 or step < 1:
            raise InvalidInput(f"--window {window} / --step {step}: window >= 100, step >= 1")
        if data.rows <= window:
            raise InvalidInput(
                f"walk-forward needs more rows than the window: {data.rows} rows, --window {window}"
            )


def train_lead_score(
    data: TrainingData,
    *,
    settings: Settings,
    evaluate: str = "holdout",
    window: int = 20_000,
    step: int = 1_000,
    config: TrainConfig | None = None,
    register: bool = True,
    engine: Engine | None = None,
    drift: DriftOptions | None = None,
    nested: bool = False,
    tags: dict[str, str] | None = None,
    tuned: dict[str, object] | None = None,
) -> TrainOutcome:
    """Train, evaluate, log and (by default) register ``challenger``; see the module docstring.

    ``drift``: the options of :mod:`optimizer.models.drift`; ``nested``: the run is a child of
    the active run (a tuning study's); ``tags`` go on the run; ``tuned`` (the parameters a
    study chose) is logged with the model as ``tuning/best_params.json``."""
    config = config or TrainConfig()
    drift = drift or DriftOptions()
    _check(data, evaluate, window, step)
    started = time.perf_counter()
    data = with_drift_features(data, drift)
    name = settings.lead_score_model_name
    fit_rows, test_rows = split_rows(
        data.y, fraction=TEST_FRACTION, time_ordered=data.time_ordered, seed=config.seed
    )
    test_y = data.y[test_rows]
    if test_y.min() == test_y.max():
        raise InvalidInput(
            f"the holdout (last {TEST_FRACTION:.0%} of {data.rows} rows) has one class only: "
            "too few positives, or drop --time-order"
        )
    experiment_id = ensure_experiment(settings, name)
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"{name}:{data.name}", nested=nested
    ) as run:
        mlflow.set_tags({"model": name, "feature_source": data.feature_source, **(tags or {})})
        if tuned is not None:
            mlflow.log_dict(tuned, "tuning/best_params.json")
        fit_frame, test_frame = data.frame.iloc[fit_rows], data.frame.iloc[test_rows]
        models = fit_fold(
            fit_frame,
            data.y[fit_rows],
            feature_source=data.feature_source,
            time_ordered_inner=data.time_ordered,
            config=config,
            engine=engine,
            drift=drift,
        )
        preds = predict_fold(models, test_frame, test_y)
        holdout = compare("holdout", 1, preds, models.points.mapping)
        evaluation = None
        if evaluate == "cv":
            evaluation = evaluate_cv(data, config=config, engine=engine, drift=drift)
        elif evaluate == "walk-forward":
            evaluation = evaluate_walk_forward(
                data, config=config, window=window, step=step, engine=engine, drift=drift
            )
        model = models.fit.model
        outcome = TrainOutcome(
            run_id=run.info.run_id,
            model_name=name,
            version=None,
            holdout=holdout,
            evaluation=evaluation,
            calibration=models.fit.calibration,
            cutoffs=model.cutoffs,
            best_iteration=model.best_iteration,
            rows=data.rows,
            features=len(models.spec.columns),
            seconds=0.0,
            warnings=data.warnings,
        )
        _log_params(data, config, evaluate, window, step, outcome)
        mlflow.log_params(drift.as_params())
        mlflow.log_params((engine or LocalEngine()).describe())
        prior = model.prior
        mlflow.log_params(
            {"points_prior.applied": prior is not None}
            if prior is None
            else {f"points_prior.{k}": v for k, v in prior.to_json().items()}
            | {"points_prior.applied": True}
        )
        _log_dataset(data)
        test_matrix = models.spec.encode(test_frame)
        mlflow.log_figure(plots.roc_figure(preds), "plots/roc.png")
        mlflow.log_figure(plots.calibration_figure(preds), "plots/calibration.png")
        mlflow.log_figure(plots.importance_figure(model), "plots/importance.png")
        mlflow.log_figure(
            plots.shap_summary_figure(model, test_matrix[:2000]), "plots/shap_summary.png"
        )
        with tempfile.TemporaryDirectory() as tmp:
            holdout_file = Path(tmp) / "holdout.parquet"
            test_frame.assign(**{LABEL_COLUMN: test_y}).to_parquet(holdout_file)
            mlflow.log_artifact(str(holdout_file), artifact_path="holdout")
            model_dir = Path(tmp) / "lead_score_model"
            model.save(model_dir)
            example = _naive_utc(test_frame.head(5))
            info, booster_info = log_lead_score_model(model, model_dir, example, test_matrix[:5])
        seconds = time.perf_counter() - started
        outcome = _with(outcome, seconds=seconds)
        mlflow.log_metrics(_finite(outcome.metrics()))
        version = None
        if register:
            version = register_model(
                run.info.run_id,
                info.model_uri,
                name,
                client=client_for(settings.resolved_mlflow_uri()),
                tags={
                    "feature_source": data.feature_source,
                    "feature_digest": models.spec.digest(),
                    "features": str(len(models.spec.columns)),
                    "data_name": data.name,
                    "data_digest": data.digest,
                    "holdout_roc_auc": f"{holdout.model.roc_auc:.6f}",
                    "points_roc_auc": f"{holdout.points.roc_auc:.6f}",
                    "booster_model_uri": booster_info.model_uri,
                    "engine": models.fit.engine,
                },
            )
        return _with(outcome, version=version, seconds=time.perf_counter() - started)


def log_lead_score_model(
    model: LeadScoreModel, model_dir: Path, example: pd.DataFrame, example_matrix: np.ndarray
) -> tuple[ModelInfo, ModelInfo]:
    """Log, in the active run, the booster with MLflow's LightGBM flavour (``booster``: raw,
    uncalibrated probabilities from the encoded matrix; with a points prior, the trees' part
    only: the prior's slope, intercept and shrink are the run's ``points_prior.*`` parameters) and the lead-score pyfunc (``model``:
    calibration, score, segment and reasons from the lead's columns, logged from code with the
    package as ``code_paths``); return both models' infos (the pyfunc's is the one registered)."""
    booster = lgb.Booster(
        model_str=model.booster.model_to_string(num_iteration=model.best_iteration)
    )
    matrix = pd.DataFrame(example_matrix, columns=booster.feature_name())
    booster_info = mlflow.lightgbm.log_model(
        booster,
        name="booster",
        signature=infer_signature(matrix, booster.predict(matrix.to_numpy())),
        input_example=matrix,
        pip_requirements=pinned(BOOSTER_REQUIREMENTS),
    )
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(LEAD_SCORE_CODE),
        artifacts={ARTIFACT_KEY: str(model_dir)},
        code_paths=code_paths(),
        signature=infer_signature(example, lead_score_output(model, example)),
        input_example=example,
        pip_requirements=pinned(LEAD_SCORE_REQUIREMENTS),
    )
    return info, booster_info


def _with(outcome: TrainOutcome, **changes: object) -> TrainOutcome:
    values = {**{f: getattr(outcome, f) for f in outcome.__dataclass_fields__}, **changes}
    return TrainOutcome(**values)  # type: ignore[arg-type]


def _naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """MLflow signatures take naive datetimes only: write aware ones as naive UTC."""
    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.DatetimeTZDtype):
            out[name] = out[name].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if np.isfinite(v)}


def _log_params(
    data: TrainingData,
    config: TrainConfig,
    evaluate: str,
    window: int,
    step: int,
    outcome: TrainOutcome,
) -> None:
    params: dict[str, object] = {f"lgb.{k}": v for k, v in asdict(config).items()}
    params.update(
        {
            "data.name": data.name,
            "data.source": data.source,
            "data.rows": data.rows,
            "data.digest": data.digest,
            "data.target": data.target,
            "data.positive": data.positive,
            "data.time_ordered": data.time_ordered,
            "feature_source": data.feature_source,
            "features": outcome.features,
            "evaluate": evaluate,
            "calibration": outcome.calibration.calibrator.method,
            "cutoff.hot": round(outcome.cutoffs.hot, 4),
            "cutoff.warm": round(outcome.cutoffs.warm, 4),
            "cutoff.rule": outcome.cutoffs.rule,
            "points.mapping": outcome.holdout.points_mapping,
        }
    )
    if evaluate == "walk-forward":
        params.update({"walk_forward.window": window, "walk_forward.step": step})
    mlflow.log_params(params)
    if data.warnings:
        mlflow.log_text("\n".join(data.warnings), "warnings.txt")


def _log_dataset(data: TrainingData) -> None:
    """Name, hash and schema of the data set; its size is in the params (``data.rows``).

    The schema comes from a sample: MLflow's pandas dataset infers it from every row, which
    took seconds on 41,000 rows.
    """
    sample = data.frame.head(500).assign(**{LABEL_COLUMN: data.y[:500]})
    source = resolve_dataset_source(data.source)
    dataset = MetaDataset(  # type: ignore[abstract]
        source=source,
        name=f"{data.name} ({data.rows} rows)",
        digest=data.digest[:16],
        schema=_infer_schema(sample),
    )
    mlflow.log_input(dataset, context="training", tags={"rows": str(data.rows)})
