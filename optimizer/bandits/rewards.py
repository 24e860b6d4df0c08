"""Delayed rewards: outcomes, opt-outs (with the guardrail) and closing expired windows.

A reward attaches to the decision that earned it through ``decision_rewards`` (unique per
decision and metric, inserted with ON CONFLICT DO NOTHING): a replayed outcome inserts nothing
and counts nothing. Counters move only by atomic SQL increments. The caller commits.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, exists, literal, null, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from optimizer.bandits.experiment_store import (
    BINARY_METRICS,
    METRICS,
    OPT_OUT_METRIC,
    _aware,
    load_arms,
    load_experiment,
)
from optimizer.bandits.guardrail import GuardrailConfig, opt_out_guardrail
from optimizer.errors import InvalidInput, NotFound
from optimizer.store.models import (
    ArmStats,
    Decision,
    DecisionConfirmation,
    DecisionReward,
    Experiment,
    UTCDateTime,
    Variant,
)


def _insert_reward(session: Session, values: Mapping[str, Any]) -> bool:
    table: Table = DecisionReward.__table__  # type: ignore[assignment]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["decision_id", "metric"])
        .returning(table.c.id)
    )
    # RETURNING, not rowcount: with psycopg the rowcount of this statement is -1. On SQLite the
    # append-only guard (a BEFORE INSERT trigger) refuses an existing key before ON CONFLICT can
    # skip it: a refusal is the same answer, "already rewarded".
    try:
        with session.begin_nested():
            return session.execute(statement).first() is not None
    except IntegrityError:
        return False


def _sent_decision(session: Session, decision_id: str) -> tuple[Decision, dt.datetime] | None:
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise NotFound(f"decision {decision_id!r} does not exist", field="decision_id")
    if decision.experiment_id is None or decision.variant_id is None:
        return None
    confirmed_at = session.scalar(
        select(DecisionConfirmation.confirmed_at).where(
            DecisionConfirmation.decision_id == decision_id,
            DecisionConfirmation.allowed.is_(true()),
        )
    )
    return None if confirmed_at is None else (decision, confirmed_at)


def record_outcome(
    session: Session,
    *,
    decision_id: str,
    metric: str,
    value: float,
    event_id: int | None,
    now: dt.datetime,
) -> bool:
    """Attach a reward to the sent decision that earned it, once, inside its window.

    Returns False (and counts nothing) for a replay, a metric the experiment does not track,
    an unsent decision, or an outcome outside the attribution window.
    """
    now = _aware(now)
    if not (isinstance(value, int | float) and math.isfinite(value)):
        raise InvalidInput(f"outcome value {value!r} is not a finite number", field="value")
    if metric not in METRICS:
        raise InvalidInput(f"metric {metric!r} is unknown (expected one of {', '.join(METRICS)})")
    sent = _sent_decision(session, decision_id)
    if sent is None:
        return False
    decision, sent_at = sent
    experiment = load_experiment(session, decision.experiment_id)  # type: ignore[arg-type]
    if metric != experiment.metric:
        return False
    if not sent_at <= now <= sent_at + dt.timedelta(hours=experiment.attribution_hours):
        return False
    binary = metric in BINARY_METRICS
    if binary and value < 0:
        raise InvalidInput(f"outcome value {value!r} for metric {metric!r}: must be >= 0")
    reward = (1.0 if value > 0 else 0.0) if binary else float(value)
    inserted = _insert_reward(
        session,
        {
            "decision_id": decision_id,
            "metric": metric,
            "variant_id": decision.variant_id,
            "reward": reward,
            "kind": "outcome",
            "event_id": event_id,
            "recorded_at": now,
        },
    )
    if not inserted:
        return False
    values: dict[str, Any] = {"updated_at": now}
    if reward > 0:
        values["successes"] = ArmStats.successes + 1
    if not binary:
        values["revenue_sum"] = ArmStats.revenue_sum + reward
        values["revenue_sum_sq"] = ArmStats.revenue_sum_sq + reward * reward
    session.execute(
        update(ArmStats)
        .where(ArmStats.variant_id == decision.variant_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return True


def record_opt_out(session: Session, *, decision_id: str, now: dt.datetime) -> bool:
    """Count an opt-out against the sent decision's arm (once), then re-check the guardrail."""
    now = _aware(now)
    sent = _sent_decision(session, decision_id)
    if sent is None:
        return False
    decision, _ = sent
    inserted = _insert_reward(
        session,
        {
            "decision_id": decision_id,
            "metric": OPT_OUT_METRIC,
            "variant_id": decision.variant_id,
            "reward": 1.0,
            "kind": "outcome",
            "event_id": None,
            "recorded_at": now,
        },
    )
    if not inserted:
        return False
    session.execute(
        update(ArmStats)
        .where(ArmStats.variant_id == decision.variant_id)
        .values(opt_outs=ArmStats.opt_outs + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    check_guardrail(session, experiment_id=decision.experiment_id, now=now)  # type: ignore[arg-type]
    return True


def check_guardrail(session: Session, *, experiment_id: int, now: dt.datetime) -> list[int]:
    """Pause the arms the opt-out guardrail flags; returns the variant ids paused now."""
    _aware(now)
    experiment = load_experiment(session, experiment_id)
    config = GuardrailConfig.from_params((experiment.policy_params or {}).get("guardrail"))
    arms = load_arms(session, experiment_id)
    flags = opt_out_guardrail(
        [v.name for v, _ in arms],
        [int(s.sends) for _, s in arms],
        [int(s.opt_outs) for _, s in arms],
        [not v.paused for v, _ in arms],
        config,
    )
    paused = []
    for flag in flags:
        variant = arms[flag.arm][0]
        session.execute(
            update(Variant)
            .where(Variant.id == variant.id, Variant.paused.is_(False))
            .values(paused=True, pause_reason=f"guardrail at {now.isoformat()}: {flag.reason}")
            .execution_options(synchronize_session=False)
        )
        paused.append(variant.id)
    return paused


def close_expired(session: Session, *, now: dt.datetime) -> int:
    """Give reward 0 (kind 'closed') once to sent decisions whose window closed without one."""
    now = _aware(now)
    table: Table = DecisionReward.__table__  # type: ignore[assignment]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    closed = 0
    for experiment in session.scalars(select(Experiment)).all():
        cutoff = now - dt.timedelta(hours=experiment.attribution_hours)
        pending = (
            select(
                Decision.id,
                literal(experiment.metric),
                Decision.variant_id,
                literal(0.0),
                literal("closed"),
                null(),
                literal(now, UTCDateTime()),
            )
            .join(DecisionConfirmation, DecisionConfirmation.decision_id == Decision.id)
            .where(
                Decision.experiment_id == experiment.id,
                Decision.variant_id.is_not(None),
                DecisionConfirmation.allowed.is_(true()),
                DecisionConfirmation.confirmed_at < cutoff,
                ~exists().where(
                    DecisionReward.decision_id == Decision.id,
                    DecisionReward.metric == experiment.metric,
                ),
            )
        )
        statement = (
            insert(table)
            .from_select(
                [
                    "decision_id",
                    "metric",
                    "variant_id",
                    "reward",
                    "kind",
                    "event_id",
                    "recorded_at",
                ],
                pending,
            )
            .on_conflict_do_nothing(index_elements=["decision_id", "metric"])
        )
        closed += len(session.execute(statement.returning(table.c.id)).all())
    return closed
