"""``optimizer train uplift``: who to text for the incremental effect, from a randomised file.

Prints a table (the uplift learner, the response model's ranking, random; each metric with its
bootstrap interval), then its figures as one JSON object on the last line.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from optimizer.cli.app import train_app
from optimizer.cli.common import emit_json, settings
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
    csv: Path = typer.Option(..., "--csv", help="A randomised experiment's table."),
    treatment: str = typer.Option(..., "--treatment", help="Column of the assigned arm."),
    control: str = typer.Option(..., "--control", help="Value of the control (no text) arm."),
    target: str = typer.Option(..., "--target", help="Outcome column."),
    treated: str | None = typer.Option(
        None, "--treated", help="Value of the treated arm (needed when there are several)."
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
    sep: str | None = typer.Option(None, "--sep", help="Field separator (sniffed when absent)."),
    drop: list[str] = typer.Option([], "--drop", help="Column to leave out; repeat for several."),
    register: bool = typer.Option(True, "--register/--no-register", help="Register challenger."),
    promote_: bool = typer.Option(
        True, "--promote/--no-promote", help="Promote when the Qini beats the response model's."
    ),
) -> None:
    """Train an uplift model (T-learner, class transformation or X-learner), log it to MLflow,
    register it as challenger and promote it when it beats the response model."""
    from optimizer.models.uplift import LEARNERS, OUTCOMES, UpliftConfig
    from training.train_uplift import train_uplift
    from training.uplift_data import load_uplift_csv

    if learner not in LEARNERS:
        raise InvalidInput(f"--learner {learner!r} is not one of {', '.join(LEARNERS)}")
    if outcome not in OUTCOMES:
        raise InvalidInput(f"--outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if not 10 <= resamples <= 10_000:
        raise InvalidInput(f"--bootstrap {resamples} must be between 10 and 10000")
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
    for message in data.warnings:
        typer.echo(f"warning: {message}", err=True)
    if abs(data.treated_share - 0.5) > 0.05 and learner == "class_transformation":
        typer.echo(
            f"warning: treated share {data.treated_share:.3f}: the class transformation assumes "
            "1/2 for a binary outcome (its ranking is biased otherwise)",
            err=True,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = train_uplift(
            data,
            settings=settings(),
            learner=learner,  # type: ignore[arg-type]
            config=UpliftConfig(seed=seed),
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
        "treated_share": data.treated_share,
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
