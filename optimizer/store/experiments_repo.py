"""Experiments, their variants and the arms' statistics in the store.

Arm statistics change only by single SQL updates (``SET sends = sends + 1``), so several
workers can share one experiment. The caller owns the transaction (nothing here commits).
The readers on the decision's path use statements built once and detached objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import make_transient_to_detached

from optimizer.errors import NotFound
from optimizer.store.db import Session, core_execute
from optimizer.store.models import ArmStats, Experiment, Variant


def load_experiment(session: Session, experiment_id: int) -> Experiment:
    """The experiment in the session (for writing), or :class:`NotFound`."""
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise NotFound(f"experiment {experiment_id!r} does not exist", field="experiment_id")
    return experiment


def list_experiments(session: Session) -> list[Experiment]:
    """Every experiment, by id."""
    return list(session.scalars(select(Experiment).order_by(Experiment.id)))


def experiment_id_by_name(session: Session, *, name: str) -> int | None:
    return session.scalar(select(Experiment.id).where(Experiment.name == name))


def variants_of(session: Session, *, experiment_id: int) -> list[Variant]:
    """The experiment's variants in their order."""
    return list(
        session.scalars(
            select(Variant).where(Variant.experiment_id == experiment_id).order_by(Variant.position)
        )
    )


_EXPERIMENT_BY_ID = select(
    *(getattr(Experiment, a.key).label(a.key) for a in Experiment.__mapper__.column_attrs)
).where(Experiment.id == bindparam("experiment_id"))


def read_experiment(session: Session, experiment_id: int) -> Experiment | None:
    """The experiment's row as a detached ``Experiment`` (not in the session; for reading),
    with one Core select (the decision's path; ``session.get`` costs about three times as
    much)."""
    row = core_execute(session, _EXPERIMENT_BY_ID, {"experiment_id": experiment_id}).first()
    if row is None:
        return None
    experiment = Experiment(**row._mapping)
    make_transient_to_detached(experiment)
    return experiment


# Built once (it runs on every decision): SQLAlchemy reuses its compiled form.
_ARMS_OF_EXPERIMENT = (
    select(Variant, ArmStats)
    .join(ArmStats, ArmStats.variant_id == Variant.id)
    .where(Variant.experiment_id == bindparam("experiment_id"))
    .order_by(Variant.position, Variant.id)
    .execution_options(populate_existing=True)
)


def load_arms(session: Session, experiment_id: int) -> list[tuple[Variant, ArmStats]]:
    """The experiment's variants with their statistics, in variant order, in the session."""
    rows = session.execute(_ARMS_OF_EXPERIMENT, {"experiment_id": experiment_id}).all()
    return [(row[0], row[1]) for row in rows]


_VARIANT_KEYS = tuple(a.key for a in Variant.__mapper__.column_attrs)
_STATS_KEYS = tuple(a.key for a in ArmStats.__mapper__.column_attrs)
_ARM_ROWS_OF_EXPERIMENT = (
    select(
        *(getattr(Variant, k).label(f"v_{k}") for k in _VARIANT_KEYS),
        *(getattr(ArmStats, k).label(f"s_{k}") for k in _STATS_KEYS),
    )
    .join(ArmStats, ArmStats.variant_id == Variant.id)
    .where(Variant.experiment_id == bindparam("experiment_id"))
    .order_by(Variant.position, Variant.id)
)


def read_arms(session: Session, experiment_id: int) -> list[tuple[Variant, ArmStats]]:
    """:func:`load_arms` for reading only (the decision's path): the same rows, in the same
    order, as detached objects (not in the session) from one Core select, about a fifth of the
    ORM's cost. Nothing written to them is stored."""
    out: list[tuple[Variant, ArmStats]] = []
    for row in core_execute(session, _ARM_ROWS_OF_EXPERIMENT, {"experiment_id": experiment_id}):
        values = row._mapping
        variant = Variant(**{k: values[f"v_{k}"] for k in _VARIANT_KEYS})
        stats = ArmStats(**{k: values[f"s_{k}"] for k in _STATS_KEYS})
        make_transient_to_detached(variant)
        make_transient_to_detached(stats)
        out.append((variant, stats))
    return out


def add_experiment(
    session: Session,
    *,
    name: str,
    metric: str,
    policy: str,
    params: Mapping[str, Any],
    variants: Sequence[tuple[str, str]],
    weights: Sequence[float] | None,
    control: str | None,
    attribution_hours: int,
    seed: int,
    now: dt.datetime,
) -> Experiment:
    """Insert a running experiment, its variants (in the given order, with ``weights`` when
    given) and zeroed arm statistics; the variant named ``control`` becomes its control."""
    experiment = Experiment(
        name=name,
        metric=metric,
        policy=policy,
        policy_params=dict(params),
        status="running",
        attribution_hours=attribution_hours,
        seed=seed,
        created_at=now,
    )
    session.add(experiment)
    session.flush()
    rows = []
    for position, (variant_name, template) in enumerate(variants):
        variant = Variant(
            experiment_id=experiment.id,
            name=variant_name,
            template=template,
            position=position,
            weight=float(weights[position]) if weights else None,
            paused=False,
        )
        session.add(variant)
        rows.append(variant)
    session.flush()
    for variant in rows:
        session.add(
            ArmStats(
                variant_id=variant.id,
                experiment_id=experiment.id,
                sends=0,
                successes=0,
                revenue_sum=0.0,
                revenue_sum_sq=0.0,
                opt_outs=0,
                propensity_inv_sum=0.0,
                updated_at=now,
            )
        )
        if variant.name == control:
            experiment.control_variant_id = variant.id
    session.flush()
    return experiment


def stop_experiment(session: Session, experiment: Experiment, *, now: dt.datetime) -> None:
    experiment.status = "stopped"
    experiment.stopped_at = now
    session.flush()


def count_send(
    session: Session,
    *,
    experiment_id: int,
    variant_id: int,
    propensity: float,
    now: dt.datetime | None,
) -> int:
    """One confirmed send and its inverse propensity added to the arm, atomically in SQL; the
    number of arms changed (1, or 0 when the variant is not the experiment's)."""
    values: dict[str, Any] = {
        "sends": ArmStats.sends + 1,
        "propensity_inv_sum": ArmStats.propensity_inv_sum + 1.0 / float(propensity),
    }
    if now is not None:
        values["updated_at"] = now
    result = session.execute(
        update(ArmStats)
        .where(ArmStats.experiment_id == experiment_id, ArmStats.variant_id == variant_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def count_reward(
    session: Session, *, variant_id: int, reward: float, binary: bool, now: dt.datetime
) -> None:
    """A reward added to the arm: a success when positive, and for a continuous metric its
    value and square to the sums."""
    values: dict[str, Any] = {"updated_at": now}
    if reward > 0:
        values["successes"] = ArmStats.successes + 1
    if not binary:
        values["revenue_sum"] = ArmStats.revenue_sum + reward
        values["revenue_sum_sq"] = ArmStats.revenue_sum_sq + reward * reward
    session.execute(
        update(ArmStats)
        .where(ArmStats.variant_id == variant_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def count_opt_out(session: Session, *, variant_id: int, now: dt.datetime) -> None:
    session.execute(
        update(ArmStats)
        .where(ArmStats.variant_id == variant_id)
        .values(opt_outs=ArmStats.opt_outs + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def pause_variant(session: Session, *, variant_id: int, reason: str) -> None:
    """Pause the variant (a variant already paused keeps its first reason)."""
    session.execute(
        update(Variant)
        .where(Variant.id == variant_id, Variant.paused.is_(False))
        .values(paused=True, pause_reason=reason)
        .execution_options(synchronize_session=False)
    )


def set_arm_state(
    session: Session,
    *,
    variant_id: int,
    stats: Mapping[str, float],
    weight: float | None,
    paused: bool,
    pause_reason: str | None,
    now: dt.datetime,
) -> None:
    """Overwrite an arm's statistics and its variant's weight and pause (an imported state)."""
    session.execute(
        update(ArmStats)
        .where(ArmStats.variant_id == variant_id)
        .values(
            sends=int(stats["sends"]),
            successes=int(stats["successes"]),
            opt_outs=int(stats["opt_outs"]),
            revenue_sum=stats["revenue_sum"],
            revenue_sum_sq=stats["revenue_sum_sq"],
            propensity_inv_sum=stats["propensity_inv_sum"],
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Variant)
        .where(Variant.id == variant_id)
        .values(weight=weight, paused=paused, pause_reason=pause_reason)
        .execution_options(synchronize_session=False)
    )
