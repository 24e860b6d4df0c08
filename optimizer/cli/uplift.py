"""``optimizer train uplift``: who to text for the incremental effect, from a randomised file
(``--csv``) or from the store's own randomised holdouts (``--from-store``, see
:mod:`training.uplift_store`).

Prints a table (the uplift learner, the response model's ranking, random; each metric with its
bootstrap interval), then its figures as one JSON object on the last line.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from optimizer.cli.app import train_app
from optimizer.cli.common import emit_json, settings
from optimizer.cli.lead_score import _parse_as_of
from optimizer.errors import InvalidInput

if TYPE_CHECKING:
    from training.train_uplift import Evaluation

_COLUMNS = ("qini", "auuc", "uplift_at_10", "uplift_at_20", "uplift_at_30")
_LABELS = {"model": "uplift model", "response": "response model", "random": "random"}


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _cell(estimate: Any) -> str:
    if not math.isfinite(estimate.value):
        return f"{'-':>26}"
    return f"{estimate.value:>8.4f} [{estimate.low:>7.4f},{estimate.high:>7.4f}]"


def _table(title: str, evaluation: Evaluation, learner: str) -> None:
    typer.echo(title)
    typer.echo(f"  {'ranking':<30}" + "".join(f"{c:>27}" for c in _COLUMNS))
    for key, scores in evaluation.by_ranking().items():
        label = f"{learner}" if key == "model" else _LABELS[key]
        typer.echo(f"  {label:<30}" + "".join(" " + _cell(getattr(scores, c)) for c in _COLUMNS))


def _payload(evaluation: Evaluation) -> dict[str, Any]:
    out: dict[str, Any] = dict(evaluation.model.as_dict())
    out["response"] = evaluation.response.as_dict()
    out["random"] = evaluation.random.as_dict()
    out["rows_scored"] = evaluation.model.n
    return out


@train_app.command("uplift")
def train_uplift_command(
    csv: Path | None = typer.Option(None, "--csv", help="A randomised experiment's table."),
    from_store: bool = typer.Option(
        False,
        "--from-store",
        help="Learn from the store's own randomised holdouts (instead of --csv).",
    ),
    treatment: str | None = typer.Option(None, "--treatment", help="CSV: column of the arm."),
    control: str | None = typer.Option(None, "--control", help="CSV: the control arm's value."),
    target: str | None = typer.Option(
        None, "--target", help="CSV: outcome column; store: reply (default) | conversion."
    ),
    treated: str | None = typer.Option(
        None, "--treated", help="CSV: the treated arm's value (needed when there are several)."
    ),
    learner: str = typer.Option(
        "two_model", "--learner", help="two_model | class_transformation | x_learner"
    ),
    outcome: str = typer.Option("binary", "--outcome", help="binary | continuous (revenue)"),
    seed: int = typer.Option(
        42, "--seed", help="Seed of the split, the folds, LightGBM, bootstrap."
    ),
    test_size: float = typer.Option(0.5, "--test-size", help="Share of rows held out."),
    folds: int | None = typer.Option(
        None, "--folds", help="Also evaluate by K-fold cross-fitting."
    ),
    resamples: int = typer.Option(200, "--bootstrap", help="Bootstrap resamples per interval."),
    min_child_samples: int = typer.Option(
        100, "--min-child-samples", help="LightGBM: fewest rows in a leaf (lower for small data)."
    ),
    sep: str | None = typer.Option(None, "--sep", help="CSV: field separator (sniffed)."),
    drop: list[str] = typer.Option([], "--drop", help="CSV: column to leave out; repeatable."),
    window_days: int = typer.Option(
        7, "--window-days", help="Store: days after a decision an outcome counts."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Store: only windows closed by then (default: now)."
    ),
    experiment: list[int] = typer.Option(
        [], "--experiment", help="Store: experiment id (repeatable; default every holdout)."
    ),
    register: bool = typer.Option(True, "--register/--no-register", help="Register challenger."),
    promote_: bool = typer.Option(
        True, "--promote/--no-promote", help="Promote when the Qini beats the response model's."
    ),
) -> None:
    """Train an uplift model (T-learner, class transformation or X-learner) from a randomised
    file or from the store's holdouts, log it to MLflow, register it as challenger and promote
    it when it beats the champion (or, with none, the response model)."""
    from optimizer.models.uplift import LEARNERS, OUTCOMES, UpliftConfig
    from training.train_uplift import train_uplift
    from training.uplift_data import load_uplift_csv

    if (csv is None) == (not from_store):
        raise InvalidInput(
            "pass exactly one of --csv PATH or --from-store (both given)"
            if from_store
            else "pass exactly one of --csv PATH or --from-store (neither given)"
        )
    if learner not in LEARNERS:
        raise InvalidInput(f"--learner {learner!r} is not one of {', '.join(LEARNERS)}")
    if outcome not in OUTCOMES:
        raise InvalidInput(f"--outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if not 10 <= resamples <= 10_000:
        raise InvalidInput(f"--bootstrap {resamples} must be between 10 and 10000")
    if not 1 <= min_child_samples <= 100_000:
        raise InvalidInput(f"--min-child-samples {min_child_samples} must be between 1 and 100000")
    if csv is not None:
        for option, value in (("--treatment", treatment), ("--control", control)):
            if value is None:
                raise InvalidInput(f"--csv needs {option}")
        if target is None:
            raise InvalidInput("--csv needs --target COL (the outcome column)")
        if as_of is not None or experiment:
            raise InvalidInput("--as-of/--experiment apply to --from-store only")
        assert treatment is not None and control is not None
        data = load_uplift_csv(
            csv,
            treatment=treatment,
            control=control,
            target=target,
            treated=treated,
            outcome=outcome,  # type: ignore[arg-type]
            sep=sep,
            drop=drop,
        )
    else:
        given = [
            name
            for name, value in (
                ("--treatment", treatment),
                ("--control", control),
                ("--treated", treated),
                ("--sep", sep),
            )
            if value is not None
        ] + (["--drop"] if drop else [])
        if given:
            raise InvalidInput(f"{given[0]} applies to --csv only (the store knows its arms)")
        if outcome != "binary":
            raise InvalidInput(f"--outcome {outcome!r}: the store's targets are binary")
        data = _store_data(
            target=target or "reply",
            window_days=window_days,
            as_of=_parse_as_of(as_of),
            experiment_ids=experiment,
        )
    for message in data.warnings:
        typer.echo(f"warning: {message}", err=True)
    share = data.weighted_treated_share
    if abs(share - 0.5) > 0.05 and learner == "class_transformation":
        typer.echo(
            f"warning: treated share {share:.3f}: the class transformation assumes "
            "1/2 for a binary outcome (its ranking is biased otherwise)",
            err=True,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = train_uplift(
            data,
            settings=settings(),
            learner=learner,  # type: ignore[arg-type]
            config=UpliftConfig(seed=seed, min_child_samples=min_child_samples),
            test_size=test_size,
            folds=folds,
            resamples=resamples,
            register=register,
            promote_if_better=promote_,
        )
    typer.echo(
        f"{result.model_name}: {data.name} ({data.rows} rows: {int(data.treatment.sum())} "
        f"treated {data.treated!r}, {int(data.rows - data.treatment.sum())} control "
        f"{data.control!r}; target {data.target} ({data.outcome}); {data.frame.shape[1]} "
        f"features), learner {learner}, run {result.run_id}, version {result.version or '-'}, "
        f"{result.seconds:.1f} s"
    )
    level = f"{result.holdout.model.level:.0%} bootstrap interval, {resamples} resamples"
    _table(
        f"holdout ({result.holdout.model.n} rows scored, test size {test_size}, seed {seed}; "
        f"{level})",
        result.holdout,
        learner,
    )
    if result.cv is not None:
        _table(
            f"{result.cv.folds}-fold cross-fitting (out-of-fold, {result.cv.model.n} rows; "
            f"fold Qini {', '.join(f'{q:.4f}' for q in result.cv.fold_qini)})",
            result.cv,
            learner,
        )
    typer.echo(f"promotion: {result.promotion_reason}")
    payload: dict[str, Any] = {
        "model": result.model_name,
        "learner": learner,
        "outcome": data.outcome,
        "run_id": result.run_id,
        "version": result.version,
        "promoted": result.promoted,
        "promotion_reason": result.promotion_reason,
        "champion_version": result.champion_version,
        "champion_qini": result.champion_qini,
        "rows": data.rows,
        "source": data.source,
        "data_name": data.name,
        "target": data.target,
        "treated_rows": int(data.treatment.sum()),
        "control_rows": int(data.rows - data.treatment.sum()),
        "treated_share": data.treated_share,
        "weighted_treated_share": data.weighted_treated_share,
        "weighted": data.weight is not None,
        "seed": seed,
        "test_size": test_size,
        "resamples": resamples,
        **_payload(result.holdout),
    }
    if result.cv is not None:
        payload["cv"] = {
            "folds": result.cv.folds,
            "fold_qini": list(result.cv.fold_qini),
            **_payload(result.cv),
        }
    emit_json(_clean(payload))


def _store_data(
    *, target: str, window_days: int, as_of: dt.datetime, experiment_ids: list[int]
) -> Any:
    from optimizer.store.db import make_engine, require_head, session_factory, transaction
    from training.uplift_store import store_uplift_data

    engine = make_engine(settings().resolved_database_url(), create_dirs=False)
    try:
        require_head(engine)
        with transaction(session_factory(engine)) as session:
            return store_uplift_data(
                session,
                as_of=as_of,
                window_days=window_days,
                target=target,  # type: ignore[arg-type]
                experiment_ids=experiment_ids or None,
            )
    finally:
        engine.dispose()
