"""Off-policy evaluations of an experiment in the store: the ``policy_evaluations`` rows.

Written by ``optimizer experiments evaluate-policy --log store`` (one append-only row per run,
migration 0004) and read by the experiment page's "evaluate before rollout" card.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from optimizer.errors import InvalidInput, NotFound
from optimizer.store.models import Experiment, PolicyEvaluation

MAX_POLICY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class EstimateFigures:
    """One estimator's estimate and interval; ``None`` where the figure was not finite."""

    value: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class StoredEvaluation:
    id: int
    experiment_id: int
    policy: str
    candidate: Mapping[str, float]
    logging_policy: str
    metric: str
    rows: int
    pending: int
    current_value: float
    current_low: float
    current_high: float
    estimates: Mapping[str, EstimateFigures]
    effective_sample_size: float
    max_weight: float
    seed: int
    resamples: int
    mlflow_run_id: str | None
    evaluated_at: dt.datetime


def finite_or_none(value: object) -> float | None:
    """``value`` as a float when it is a finite number, else ``None`` (JSON has no NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _finite(name: str, value: float) -> float:
    number = finite_or_none(value)
    if number is None:
        raise InvalidInput(f"{name} {value!r}: a finite number expected", field=name)
    return number


def record_evaluation(
    session: Session,
    *,
    experiment_id: int,
    policy: str,
    candidate: Mapping[str, float],
    metric: str,
    rows: int,
    pending: int,
    current: tuple[float, float, float],
    estimates: Mapping[str, Mapping[str, Any]],
    effective_sample_size: float,
    max_weight: float,
    seed: int,
    resamples: int,
    mlflow_run_id: str | None,
    evaluated_at: dt.datetime,
) -> int:
    """Append one evaluation of ``experiment_id``; returns its id. ``current`` is the logged
    policy's (value, low, high); each estimate's non-finite figures are stored as null, and the
    figures that every reading relies on (the current value, the weights) must be finite."""
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise NotFound(f"experiment {experiment_id!r} does not exist", field="experiment_id")
    if not policy or len(policy) > MAX_POLICY_LENGTH:
        raise InvalidInput(
            f"policy {policy[:40]!r}: 1 to {MAX_POLICY_LENGTH} characters expected",
            field="policy",
        )
    if evaluated_at.tzinfo is None:
        raise InvalidInput(
            f"evaluated_at {evaluated_at.isoformat()}: a timezone-aware time expected",
            field="evaluated_at",
        )
    value, low, high = (_finite("current_value", x) for x in current)
    row = PolicyEvaluation(
        experiment_id=experiment_id,
        policy=policy,
        candidate={str(k): _finite("candidate", v) for k, v in candidate.items()},
        logging_policy=experiment.policy,
        metric=metric,
        rows=int(rows),
        pending=int(pending),
        current_value=value,
        current_low=low,
        current_high=high,
        estimates={
            str(name): {
                key: finite_or_none(figures.get(key)) for key in ("value", "ci_low", "ci_high")
            }
            for name, figures in estimates.items()
        },
        effective_sample_size=_finite("effective_sample_size", effective_sample_size),
        max_weight=_finite("max_weight", max_weight),
        seed=int(seed),
        resamples=int(resamples),
        mlflow_run_id=mlflow_run_id,
        evaluated_at=evaluated_at,
    )
    session.add(row)
    session.flush()
    return int(row.id)


def latest_evaluations(
    session: Session, experiment_id: int, *, limit: int = 3
) -> list[StoredEvaluation]:
    """The newest ``limit`` evaluations of ``experiment_id``, newest first."""
    rows = session.scalars(
        select(PolicyEvaluation)
        .where(PolicyEvaluation.experiment_id == experiment_id)
        .order_by(PolicyEvaluation.evaluated_at.desc(), PolicyEvaluation.id.desc())
        .limit(limit)
    ).all()
    return [
        StoredEvaluation(
            id=r.id,
            experiment_id=r.experiment_id,
            policy=r.policy,
            candidate={str(k): float(v) for k, v in (r.candidate or {}).items()},
            logging_policy=r.logging_policy,
            metric=r.metric,
            rows=r.rows,
            pending=r.pending,
            current_value=r.current_value,
            current_low=r.current_low,
            current_high=r.current_high,
            estimates={
                str(name): EstimateFigures(
                    finite_or_none(f.get("value")),
                    finite_or_none(f.get("ci_low")),
                    finite_or_none(f.get("ci_high")),
                )
                for name, f in (r.estimates or {}).items()
                if isinstance(f, Mapping)
            },
            effective_sample_size=r.effective_sample_size,
            max_weight=r.max_weight,
            seed=r.seed,
            resamples=r.resamples,
            mlflow_run_id=r.mlflow_run_id,
            evaluated_at=r.evaluated_at,
        )
        for r in rows
    ]
