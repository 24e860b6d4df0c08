"""Tune the lead-score model with Optuna, each trial an MLflow child run of one parent run.

Objective: the pooled walk-forward ROC AUC (train on the previous ``window`` rows, score the
next ``step``), the same figure ``train --evaluate walk-forward`` reports. After each step the
AUC pooled so far is the trial's intermediate value, so the median pruner stops a trial that
trails the others at the same step. Sampler: TPE seeded with ``seed``. The search space is
LightGBM's shape and regularisation and the recency half-life (or none); the other drift
options (changes, monotone constraints, recent validation) stay as given.

When the study ends the parent run gets the best parameters and value, the trials table and a
parameter-importance plot (fANOVA, seeded); then the model is trained with the best
parameters by :func:`~training.train_lead_score.train_lead_score` (a child run too, logged and
registered ``challenger`` as ``optimizer train lead-score`` does, with the parameters as
``tuning/best_params.json``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import optuna
from sklearn.metrics import roc_auc_score

from optimizer.errors import InvalidInput
from optimizer.models.drift import DriftOptions
from optimizer.models.lead_score import TrainConfig
from optimizer.models.registry import client_for
from optimizer.settings import Settings
from training.datasets import TrainingData
from training.evaluate import Predictions, evaluate_walk_forward, with_drift_features
from training.train_lead_score import TrainOutcome, ensure_experiment, train_lead_score

IMPORTANCE_ARTIFACT = "plots/param_importance.png"
TRIALS_ARTIFACT = "tuning/trials.json"
PRUNER_STARTUP_TRIALS = 4
PRUNER_WARMUP_STEPS = 4


@dataclass(frozen=True)
class TuneOutcome:
    parent_run_id: str
    trials: int
    completed: int
    pruned: int
    best_value: float
    best_params: dict[str, object]
    importances: dict[str, float]
    tune_seconds: float
    outcome: TrainOutcome  # the model trained with the best parameters


def suggest(
    trial: optuna.Trial | optuna.trial.FixedTrial, base: TrainConfig, drift: DriftOptions
) -> tuple[TrainConfig, DriftOptions]:
    """The trial's LightGBM settings and half-life (everything else as in ``base``/``drift``)."""
    config = replace(
        base,
        learning_rate=trial.suggest_float("learning_rate", 0.01, 0.15, log=True),
        num_leaves=trial.suggest_int("num_leaves", 4, 63, log=True),
        min_child_samples=trial.suggest_int("min_child_samples", 20, 800, log=True),
        feature_fraction=trial.suggest_float("feature_fraction", 0.3, 1.0),
        lambda_l2=trial.suggest_float("lambda_l2", 0.01, 100.0, log=True),
        cat_smooth=trial.suggest_float("cat_smooth", 1.0, 100.0, log=True),
    )
    half_life = None
    if trial.suggest_categorical("recency", [False, True]):
        half_life = trial.suggest_float("half_life", 1000.0, 100_000.0, log=True)
    return config, replace(drift, half_life=half_life)


def _pooled_auc(pooled: Predictions) -> float:
    if pooled.y.min() == pooled.y.max():
        return 0.5
    return float(roc_auc_score(pooled.y, pooled.model))


def _importance_figure(study: optuna.Study, seed: int) -> tuple[dict[str, float], plt.Figure]:
    """fANOVA importances of the completed trials, as a bar chart (a note when too few)."""
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    importances: dict[str, float] = {}
    if len(completed) >= 2 and len({t.value for t in completed}) > 1:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        importances = {
            k: float(v)
            for k, v in optuna.importance.get_param_importances(study, evaluator=evaluator).items()
        }
    fig, ax = plt.subplots(figsize=(7, 4))
    if importances:
        names = list(importances)[::-1]
        ax.barh(names, [importances[n] for n in names])
        ax.set_xlabel("fANOVA importance (share of the objective's variance)")
    else:
        ax.text(0.5, 0.5, "fewer than 2 completed trials with different values", ha="center")
        ax.set_axis_off()
    ax.set_title(f"lead score: parameter importance ({len(completed)} completed trials)")
    fig.tight_layout()
    return importances, fig


def tune_lead_score(
    data: TrainingData,
    *,
    settings: Settings,
    trials: int,
    seed: int = 0,
    window: int = 20_000,
    step: int = 1_000,
    drift: DriftOptions | None = None,
    base: TrainConfig | None = None,
    timeout_seconds: float | None = None,
    register: bool = True,
) -> TuneOutcome:
    """Run the study (see the module docstring) and train the model with its best parameters."""
    if trials < 1:
        raise InvalidInput(f"--trials {trials}: at least 1 trial expected")
    if timeout_seconds is not None and not timeout_seconds > 0:
        raise InvalidInput(f"--timeout {timeout_seconds}: a positive number of seconds expected")
    if not data.time_ordered:
        raise InvalidInput(
            "tuning walks forward through the rows and weighs them by recency: add --time-order "
            "(the rows must be in time order)"
        )
    if window < 100 or step < 1:
        raise InvalidInput(f"--window {window} / --step {step}: window >= 100, step >= 1")
    if data.rows <= window:
        raise InvalidInput(
            f"tuning walks forward and needs more rows than the window: {data.rows} rows, "
            f"--window {window}"
        )
    drift = drift or DriftOptions()
    base = base or TrainConfig(seed=seed)
    # The changes are built once (they do not depend on the tuned parameters).
    walked = with_drift_features(data, replace(drift, half_life=None))
    name = settings.lead_score_model_name
    experiment_id = ensure_experiment(settings, name)
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_STEPS
        ),
        study_name=f"{name}:tune:{data.name}",
    )
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{name}:tune:{data.name}") as run:
        mlflow.set_tags({"model": name, "tune.role": "parent"})
        mlflow.log_params(
            {
                "tune.trials": trials,
                "tune.seed": seed,
                "tune.sampler": "TPE",
                "tune.pruner": (
                    f"median (startup {PRUNER_STARTUP_TRIALS} trials, warmup "
                    f"{PRUNER_WARMUP_STEPS} steps)"
                ),
                "tune.objective": "walk_forward.roc_auc (pooled)",
                "tune.timeout_seconds": timeout_seconds if timeout_seconds else "none",
                "walk_forward.window": window,
                "walk_forward.step": step,
                "data.name": data.name,
                "data.rows": data.rows,
                "data.digest": data.digest,
                **drift.as_params(),
            }
        )

        def objective(trial: optuna.Trial) -> float:
            config, trial_drift = suggest(trial, base, drift)
            pruned: optuna.TrialPruned | None = None
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=f"trial {trial.number}", nested=True
            ):
                mlflow.set_tags({"tune.role": "trial", "tune.trial": str(trial.number)})
                mlflow.log_params(trial.params)

                def on_step(index: int, pooled: Predictions) -> None:
                    auc = _pooled_auc(pooled)
                    mlflow.log_metric("walk_forward.roc_auc_so_far", auc, step=index)
                    trial.report(auc, index)
                    if trial.should_prune():
                        raise optuna.TrialPruned(f"pruned after step {index}")

                try:
                    comparison = evaluate_walk_forward(
                        walked,
                        config=config,
                        window=window,
                        step=step,
                        drift=trial_drift,
                        on_step=on_step,
                        baselines=False,
                    )
                except optuna.TrialPruned as exc:
                    # A pruned trial is a finished run (stopped on purpose), not a failed one.
                    mlflow.set_tag("tune.state", "pruned")
                    pruned = exc
                else:
                    value = float(comparison.model.roc_auc)
                    mlflow.set_tag("tune.state", "complete")
                    mlflow.log_metrics(
                        {
                            "walk_forward.roc_auc": value,
                            "walk_forward.pr_auc": comparison.model.pr_auc,
                            "walk_forward.brier": comparison.model.brier,
                        }
                    )
            if pruned is not None:
                raise pruned
            return value

        study.optimize(objective, n_trials=trials, timeout=timeout_seconds)
        states = [t.state for t in study.trials]
        completed = sum(s == optuna.trial.TrialState.COMPLETE for s in states)
        pruned = sum(s == optuna.trial.TrialState.PRUNED for s in states)
        if completed == 0:
            raise InvalidInput(f"no trial of {len(states)} completed: raise --trials")
        best = study.best_trial
        best_params = dict(best.params)
        importances, figure = _importance_figure(study, seed)
        mlflow.log_figure(figure, IMPORTANCE_ARTIFACT)
        plt.close(figure)
        mlflow.log_dict(
            {
                "trials": [
                    {
                        "number": t.number,
                        "state": t.state.name,
                        "value": t.value,
                        "params": t.params,
                        "intermediate": {str(k): v for k, v in t.intermediate_values.items()},
                    }
                    for t in study.trials
                ]
            },
            TRIALS_ARTIFACT,
        )
        tune_seconds = time.perf_counter() - started
        mlflow.log_params({f"best.{k}": v for k, v in best_params.items()})
        mlflow.log_metrics(
            {
                "best.walk_forward.roc_auc": float(best.value or np.nan),
                "best.trial": float(best.number),
                "trials.completed": float(completed),
                "trials.pruned": float(pruned),
                "tune_seconds": tune_seconds,
                **{f"importance.{k}": v for k, v in importances.items()},
            }
        )
        best_config, best_drift = suggest(optuna.trial.FixedTrial(best_params), base, drift)
        tuned = {
            "params": best_params,
            "walk_forward_roc_auc": best.value,
            "trial": best.number,
            "parent_run_id": run.info.run_id,
        }
        outcome = train_lead_score(
            data,
            settings=settings,
            config=best_config,
            drift=best_drift,
            register=register,
            nested=True,
            tags={"tune.role": "final", "tune.parent_run_id": run.info.run_id},
            tuned=tuned,
        )
        mlflow.set_tags(
            {
                "tune.final_run_id": outcome.run_id,
                "tune.final_version": outcome.version or "",
            }
        )
    if outcome.version is not None:
        client_for(settings.resolved_mlflow_uri()).set_model_version_tag(
            name, outcome.version, "tuned_params", json.dumps(best_params, sort_keys=True)
        )
    return TuneOutcome(
        parent_run_id=run.info.run_id,
        trials=len(states),
        completed=completed,
        pruned=pruned,
        best_value=float(best.value or np.nan),
        best_params=best_params,
        importances=importances,
        tune_seconds=tune_seconds,
        outcome=outcome,
    )
