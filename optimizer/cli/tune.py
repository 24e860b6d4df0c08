"""``optimizer tune lead-score``: an Optuna study on the walk-forward ROC AUC, tracked in MLflow.

Prints the study's summary and the trained model's tables, then one JSON object on the last
line. (``send-time`` has no tuner yet: its training has no walk-forward objective to report
per step.)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import typer

from optimizer.cli.app import tune_app
from optimizer.cli.common import emit_json, settings
from optimizer.cli.lead_score import (
    CHANGE_WINDOW_HELP,
    CHANGES_HELP,
    LEVELS_HELP,
    MONOTONE_HELP,
    RECENT_HELP,
    _clean,
    _train_config,
    drift_options,
    outcome_json,
    report_outcome,
)
from optimizer.errors import InvalidInput

# Measured on the bank file (41,188 rows, W=20,000, S=1,000) on a 2-core machine: see README.
DEFAULT_TRIALS = 30
DEFAULT_TIMEOUT_SECONDS = 480.0


@tune_app.command("lead-score")
def tune_lead_score_command(
    csv: Path = typer.Option(..., "--csv", help="Time-ordered table to tune on."),
    target: str = typer.Option(..., "--target", help="Target column of the CSV."),
    positive: str | None = typer.Option(None, "--positive", help="Value of the positive class."),
    sep: str | None = typer.Option(None, "--sep", help="Field separator (sniffed when absent)."),
    drop: list[str] = typer.Option([], "--drop", help="Column to leave out; repeat for several."),
    time_order: bool = typer.Option(
        False, "--time-order", help="Rows are in time order (required: the study walks forward)."
    ),
    trials: int = typer.Option(DEFAULT_TRIALS, "--trials", help="Optuna trials."),
    timeout: float | None = typer.Option(
        DEFAULT_TIMEOUT_SECONDS,
        "--timeout",
        help="Seconds after which no new trial starts (the running one finishes).",
    ),
    window: int = typer.Option(20_000, "--window", help="Walk-forward: rows to train on."),
    step: int = typer.Option(1_000, "--step", help="Walk-forward: rows scored per step."),
    seed: int = typer.Option(0, "--seed", help="Seed of the TPE sampler, the splits, LightGBM."),
    register: bool = typer.Option(True, "--register/--no-register", help="Register challenger."),
    max_rounds: int | None = typer.Option(None, "--max-rounds", help="Most boosting rounds."),
    changes: list[str] = typer.Option([], "--changes", help=CHANGES_HELP),
    change_window: int = typer.Option(1000, "--change-window", help=CHANGE_WINDOW_HELP),
    levels: bool = typer.Option(True, "--levels/--no-levels", help=LEVELS_HELP),
    monotone: list[str] = typer.Option([], "--monotone", help=MONOTONE_HELP),
    recent_validation: bool = typer.Option(False, "--recent-validation", help=RECENT_HELP),
) -> None:
    """Tune LightGBM and the recency half-life on the walk-forward ROC AUC; train the best."""
    from training.datasets import load_csv
    from training.tune_lead_score import tune_lead_score

    if trials < 1:
        raise InvalidInput(f"--trials {trials}: at least 1 trial expected")
    base = _train_config(seed, max_rounds)
    drift = drift_options(
        half_life=None,
        changes=changes,
        change_window=change_window,
        levels=levels,
        monotone=monotone,
        recent_validation=recent_validation,
    )
    data = load_csv(
        csv, target=target, positive=positive, sep=sep, drop=drop, time_order=time_order
    )
    for message in data.warnings:
        typer.echo(f"warning: {message}", err=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = tune_lead_score(
            data,
            settings=settings(),
            trials=trials,
            seed=seed,
            window=window,
            step=step,
            drift=drift,
            base=base,
            timeout_seconds=timeout,
            register=register,
        )
    typer.echo(
        f"study: {result.trials} trials ({result.completed} completed, {result.pruned} pruned) "
        f"in {result.tune_seconds:.0f} s, parent run {result.parent_run_id}; best walk-forward "
        f"ROC AUC {result.best_value:.4f} with {result.best_params}"
    )
    if result.importances:
        typer.echo(
            "importance: " + ", ".join(f"{k} {v:.2f}" for k, v in result.importances.items())
        )
    report_outcome(result.outcome, data, json_line=False)
    emit_json(
        _clean(
            {
                "parent_run_id": result.parent_run_id,
                "trials": result.trials,
                "completed": result.completed,
                "pruned": result.pruned,
                "best_value": result.best_value,
                "best_params": result.best_params,
                "importances": result.importances,
                "tune_seconds": result.tune_seconds,
                "trained": outcome_json(result.outcome),
            }
        )
    )
