"""``optimizer train lead-score``, ``optimizer models validate|promote|list``.

Each command prints a human-readable table, then its figures as one JSON object on the last line.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from optimizer.cli.app import models_app, train_app
from optimizer.cli.common import emit_json, settings
from optimizer.errors import InvalidInput
from optimizer.store.db import make_engine, require_head, session_factory, transaction

if TYPE_CHECKING:
    from optimizer.models.metrics import BinaryMetrics

# LightGBM, scikit-learn and MLflow are imported inside the commands: importing them here would
# slow every `optimizer` command by seconds.

_COLUMNS = ("roc_auc", "pr_auc", "brier", "log_loss", "top_decile_lift")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _table(title: str, rows: list[tuple[str, BinaryMetrics | None]]) -> None:
    typer.echo(title)
    typer.echo(f"  {'model':<28}" + "".join(f"{c:>17}" for c in _COLUMNS))
    for label, metrics in rows:
        if metrics is None:
            typer.echo(f"  {label:<28}" + f"{'-':>17}" * len(_COLUMNS))
            continue
        cells = (getattr(metrics, c) for c in _COLUMNS)
        typer.echo(
            f"  {label:<28}"
            + "".join(f"{v:>17.4f}" if math.isfinite(v) else f"{'-':>17}" for v in cells)
        )


def _train_config(
    seed: int,
    max_rounds: int | None = None,
    *,
    points_prior: bool = True,
    prior_strength: float | None = None,
) -> Any:
    from optimizer.models.lead_score import TrainConfig

    values: dict[str, Any] = {"seed": seed, "points_prior": points_prior}
    if max_rounds is not None:
        if max_rounds < 1:
            raise InvalidInput(f"--max-rounds {max_rounds}: at least 1 expected")
        values["max_rounds"] = max_rounds
    if prior_strength is not None:
        if not points_prior:
            raise InvalidInput(
                "--prior-strength needs the points prior (leave out --no-points-prior)"
            )
        if not (math.isfinite(prior_strength) and prior_strength >= 0):
            raise InvalidInput(
                f"--prior-strength {prior_strength}: a number of conversions >= 0 expected"
            )
        values["points_prior_strength"] = prior_strength
    return TrainConfig(**values)


def drift_options(
    *,
    half_life: float | None,
    changes: list[str],
    change_window: int,
    levels: bool,
    monotone: list[str],
    recent_validation: bool,
    recent_level: int | None = None,
) -> Any:
    from optimizer.models.drift import DriftOptions, parse_monotone

    return DriftOptions(
        half_life=half_life,
        changes=tuple(changes),
        change_window=change_window,
        keep_levels=levels,
        monotone=parse_monotone(monotone),
        recent_validation=recent_validation,
        recent_level=recent_level,
    )


HALF_LIFE_HELP = "Recency weights: a row this many rows older weighs half (needs --time-order)."
CHANGES_HELP = (
    "Numeric column to add past-only changes of (.step, .vs_mean, .run); repeat for several "
    "(needs --time-order; CSV only: the store's features have no such columns)."
)
CHANGE_WINDOW_HELP = "Changes: previous rows in the rolling mean of .vs_mean."
LEVELS_HELP = "Changes: keep the columns' own values beside their changes."
MONOTONE_HELP = "COLUMN=+1 or COLUMN=-1: LightGBM monotone constraint; repeat for several."
RECENT_LEVEL_HELP = (
    "Shift the calibrated log-odds so the mean score of the newest N fitted rows equals their "
    "rate (needs --time-order; CSV only)."
)
RECENT_HELP = (
    "Early stopping, calibration and cut-offs on the most recent 20% of each fit "
    "(needs --time-order)."
)


def _parse_as_of(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"--as-of {text!r} is not an ISO 8601 date-time") from exc
    if value.tzinfo is None:
        raise InvalidInput(f"--as-of {text!r} has no time zone (e.g. 2026-05-01T00:00:00+00:00)")
    return value.astimezone(dt.UTC)


@train_app.command("lead-score")
def train_lead_score_command(
    csv: Path | None = typer.Option(
        None, "--csv", help="Train from this table instead of the store."
    ),
    target: str | None = typer.Option(None, "--target", help="Target column of the CSV."),
    positive: str | None = typer.Option(None, "--positive", help="Value of the positive class."),
    sep: str | None = typer.Option(None, "--sep", help="Field separator (sniffed when absent)."),
    drop: list[str] = typer.Option([], "--drop", help="Column to leave out; repeat for several."),
    time_order: bool = typer.Option(False, "--time-order", help="Rows are in time order."),
    evaluate: str = typer.Option("holdout", "--evaluate", help="holdout | cv | walk-forward"),
    window: int = typer.Option(20_000, "--window", help="Walk-forward: rows to train on."),
    step: int = typer.Option(1_000, "--step", help="Walk-forward: rows scored per step."),
    horizon_days: int | None = typer.Option(
        None, "--horizon-days", help="Store: conversion horizon (default: settings)."
    ),
    as_of: str | None = typer.Option(None, "--as-of", help="Store: 'now' for closed horizons."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random split and of LightGBM."),
    register: bool = typer.Option(True, "--register/--no-register", help="Register challenger."),
    engine: str = typer.Option(
        "local", "--engine", help="local | dask (LightGBM's Dask interface, data-parallel)."
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Dask: scheduler address tcp://HOST:PORT (default: a local cluster).",
    ),
    dask_workers: int | None = typer.Option(
        None,
        "--dask-workers",
        help="Dask: workers of the local cluster, or to wait for (default 2).",
    ),
    max_rounds: int | None = typer.Option(
        None,
        "--max-rounds",
        help="Most boosting rounds (default 2000; early stopping ends sooner, except on Dask).",
    ),
    half_life: float | None = typer.Option(None, "--half-life", help=HALF_LIFE_HELP),
    changes: list[str] = typer.Option([], "--changes", help=CHANGES_HELP),
    change_window: int = typer.Option(1000, "--change-window", help=CHANGE_WINDOW_HELP),
    levels: bool = typer.Option(True, "--levels/--no-levels", help=LEVELS_HELP),
    monotone: list[str] = typer.Option([], "--monotone", help=MONOTONE_HELP),
    recent_validation: bool = typer.Option(False, "--recent-validation", help=RECENT_HELP),
    recent_level: int | None = typer.Option(None, "--recent-level", help=RECENT_LEVEL_HELP),
    points_prior: bool = typer.Option(
        True,
        "--points-prior/--no-points-prior",
        help="Start the trees from the points model's log-odds (where the data has its fields).",
    ),
    prior_strength: float | None = typer.Option(
        None,
        "--prior-strength",
        help="Conversions K: the trees' margin weighs positives / (positives + K) (default 100).",
    ),
) -> None:
    """Train the lead-score model (from the store, or --csv), log it to MLflow, register it."""
    from optimizer.models.engine import check_engine, open_engine
    from training.datasets import load_csv
    from training.train_lead_score import train_lead_score

    check_engine(engine, scheduler=scheduler, workers=dask_workers)
    config = _train_config(
        seed, max_rounds, points_prior=points_prior, prior_strength=prior_strength
    )
    drift = drift_options(
        half_life=half_life,
        changes=changes,
        change_window=change_window,
        levels=levels,
        monotone=monotone,
        recent_validation=recent_validation,
        recent_level=recent_level,
    )
    cfg = settings()
    if csv is not None:
        if target is None:
            raise InvalidInput("--csv needs --target COL (the column to predict)")
        data = load_csv(
            csv, target=target, positive=positive, sep=sep, drop=drop, time_order=time_order
        )
    else:
        if target or positive or sep or drop:
            raise InvalidInput("--target/--positive/--sep/--drop apply to --csv only")
        if recent_level is not None:
            raise InvalidInput(
                "--recent-level applies to --csv only: on the store path the level comes "
                "from the store's own training rules"
            )
        if changes:
            raise InvalidInput(
                "--changes applies to --csv only: the store's features have no drifting "
                "columns (its rows are touches of many leads; --half-life, --monotone and "
                "--recent-validation do apply)"
            )
        data = _store_data(horizon_days or cfg.conversion_horizon_days, _parse_as_of(as_of))
    for message in data.warnings:
        typer.echo(f"warning: {message}", err=True)
    if evaluate == "walk-forward" and not data.time_ordered:
        typer.echo("warning: walk-forward assumes the rows are in time order", err=True)
    with (
        open_engine(engine, scheduler=scheduler, workers=dask_workers) as trainer,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", UserWarning)
        outcome = train_lead_score(
            data,
            settings=cfg,
            evaluate=evaluate,
            window=window,
            step=step,
            config=config,
            register=register,
            engine=trainer,
            drift=drift,
        )
    report_outcome(outcome, data)


def report_outcome(outcome: Any, data: Any, *, json_line: bool = True) -> None:
    """The tables (and the JSON line) of a training run (``train`` and ``tune`` print them)."""
    typer.echo(
        f"{outcome.model_name}: {data.name} ({data.rows} rows, {outcome.features} features, "
        f"target {data.target}={data.positive!r}), run {outcome.run_id}, "
        f"version {outcome.version or '-'} (alias challenger), {outcome.seconds:.1f} s"
    )
    comparisons = [outcome.holdout] + ([outcome.evaluation] if outcome.evaluation else [])
    for comp in comparisons:
        _table(
            f"{comp.mode} ({comp.folds} fold(s), {comp.model.n} rows scored, "
            f"points mapping: {comp.points_mapping})",
            [
                ("LightGBM (calibrated)", comp.model),
                ("LightGBM (uncalibrated)", comp.uncalibrated),
                ("logistic regression", comp.logistic),
                ("points baseline", comp.points),
            ],
        )
    cal = outcome.calibration
    typer.echo(
        f"calibration: {cal.calibrator.method} (validation Brier raw {cal.brier_raw:.5f}, "
        f"cross-fitted isotonic {cal.brier_isotonic:.5f}, sigmoid {cal.brier_sigmoid:.5f}); "
        f"segments: hot >= "
        f"{outcome.cutoffs.hot:.1f}, warm >= {outcome.cutoffs.warm:.1f} ({outcome.cutoffs.rule})"
    )
    if json_line:
        emit_json(outcome_json(outcome))


def outcome_json(outcome: Any) -> dict[str, Any]:
    cal = outcome.calibration
    cleaned: dict[str, Any] = _clean(
        {
            "model": outcome.model_name,
            "run_id": outcome.run_id,
            "version": outcome.version,
            "rows": outcome.rows,
            "features": outcome.features,
            "calibration": cal.calibrator.method,
            "cutoffs": {"hot": outcome.cutoffs.hot, "warm": outcome.cutoffs.warm},
            "metrics": outcome.metrics(),
        }
    )
    return cleaned


def _store_data(horizon_days: int, now: dt.datetime) -> Any:
    from training.store_data import store_training_data

    engine = make_engine(settings().resolved_database_url(), create_dirs=False)
    try:
        require_head(engine)
        with transaction(session_factory(engine)) as session:
            return store_training_data(session, horizon_days=horizon_days, now=now)
    finally:
        engine.dispose()


@models_app.command("validate")
def models_validate(name: str = typer.Argument(..., help="Registered model name.")) -> None:
    """Compare the challenger with the champion on the challenger's holdout."""
    from training.validate import validate_lead_score

    cfg = settings()
    if name == cfg.uplift_model_name:
        _validate_uplift()
        return
    if name != cfg.lead_score_model_name:
        raise InvalidInput(
            f"model {name!r}: validate knows {cfg.lead_score_model_name!r} and "
            f"{cfg.uplift_model_name!r} (the send-time model validates when it trains)"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        report = validate_lead_score(cfg, name=name)
    _table(
        f"{name}: holdout of challenger version {report.challenger_version} ({report.rows} rows)",
        [
            (f"challenger (v{report.challenger_version})", report.challenger),
            (
                f"champion (v{report.champion_version})" if report.champion_version else "champion",
                report.champion,
            ),
            ("points baseline", report.points),
        ],
    )
    typer.echo(report.note)
    emit_json(
        _clean(
            {
                "model": name,
                "metric": report.metric,
                "rows": report.rows,
                "comparable": report.comparable,
                "challenger_version": report.challenger_version,
                "champion_version": report.champion_version,
                "challenger": report.challenger.as_dict(),
                "champion": None if report.champion is None else report.champion.as_dict(),
                "points": report.points.as_dict(),
            }
        )
    )


def _validate_uplift() -> None:
    from training.validate_uplift import validate_uplift

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        report = validate_uplift(settings())

    def cell(value: float | None) -> str:
        return f"{value:>10.4f}" if value is not None and math.isfinite(value) else f"{'-':>10}"

    typer.echo(
        f"{report.name}: holdout of challenger version {report.challenger_version} "
        f"({report.rows} rows), Qini"
    )
    typer.echo(
        f"  {'challenger (v' + report.challenger_version + ')':<28}{cell(report.challenger)}"
    )
    label = f"champion (v{report.champion_version})" if report.champion_version else "champion"
    typer.echo(f"  {label:<28}{cell(report.champion)}")
    typer.echo(f"  {'response model':<28}{cell(report.response)}")
    typer.echo(report.note)
    emit_json(_clean(asdict(report)))


@models_app.command("promote")
def models_promote(
    name: str = typer.Argument(..., help="Registered model name."),
    metric: str = typer.Option("roc_auc", "--metric", help="Validation metric to compare."),
    lower_is_better: bool = typer.Option(False, "--lower-is-better", help="E.g. for log loss."),
    margin: float | None = typer.Option(None, "--margin", help="Default: settings."),
    force: bool = typer.Option(False, "--force", help="Promote even when not better."),
) -> None:
    """Move the champion alias to the challenger if it is better by the margin."""
    cfg = settings()
    from optimizer.models.registry import client_for, promote

    decision = promote(
        name,
        client=client_for(cfg.resolved_mlflow_uri()),
        margin=cfg.promote_margin if margin is None else margin,
        metric=metric,
        higher_is_better=not lower_is_better,
        force=force,
    )
    verb = "promoted" if decision.promoted else "not promoted"
    typer.echo(
        f"{name}: challenger v{decision.challenger_version} {verb}; champion "
        f"{decision.champion_before or 'none'} -> {decision.champion_after or 'none'}: "
        f"{decision.reason}"
    )
    emit_json(
        _clean(
            {
                "model": name,
                "promoted": decision.promoted,
                "metric": decision.metric,
                "challenger_version": decision.challenger_version,
                "champion_before": decision.champion_before,
                "champion_after": decision.champion_after,
                "challenger": decision.challenger_value,
                "champion": decision.champion_value,
                "baseline": decision.baseline_value,
                "margin": decision.margin,
                "reason": decision.reason,
            }
        )
    )


@dataclass(frozen=True)
class VersionRow:
    model: str
    version: str
    aliases: tuple[str, ...]
    feature_source: str
    run_id: str | None
    validation: str


@models_app.command("list")
def models_list() -> None:
    """Registered versions of the lead-score, send-time and uplift models, with their aliases."""
    cfg = settings()
    from optimizer.models.registry import aliases_of, client_for, list_versions

    client = client_for(cfg.resolved_mlflow_uri())
    rows: list[VersionRow] = []
    for name in (cfg.lead_score_model_name, cfg.send_time_model_name, cfg.uplift_model_name):
        aliases = aliases_of(name, client=client)
        for version in list_versions(name, client=client):
            tags = dict(version.tags or {})
            rows.append(
                VersionRow(
                    model=name,
                    version=str(version.version),
                    aliases=tuple(sorted(aliases.get(str(version.version), []))),
                    feature_source=tags.get("feature_source", ""),
                    run_id=version.run_id,
                    validation=tags.get("validation.challenger", ""),
                )
            )
    typer.echo(f"{'model':<14}{'version':>8}  {'aliases':<22}{'features':<20}run")
    for row in rows:
        typer.echo(
            f"{row.model:<14}{row.version:>8}  {','.join(row.aliases) or '-':<22}"
            f"{row.feature_source:<20}{row.run_id}"
        )
    if not rows:
        typer.echo("(no registered versions)")
    emit_json({"versions": [asdict(row) for row in rows]})
