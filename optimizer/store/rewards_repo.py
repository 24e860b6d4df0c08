"""Delayed rewards in the store (``decision_rewards``) and the decision log's reads behind an
experiment's results.

A reward attaches to the decision that earned it once: the table is unique per (decision,
metric) and rows are inserted with ON CONFLICT DO NOTHING, so a replay inserts nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, exists, literal, null, select, true
from sqlalchemy.dialects import postgresql, sqlite

from optimizer.store.db import IntegrityError, Session
from optimizer.store.decision_log import confirmed_sends
from optimizer.store.models import (
    Decision,
    DecisionConfirmation,
    DecisionReward,
    Experiment,
    UTCDateTime,
)

_REWARD_COLUMNS = (
    "decision_id",
    "metric",
    "variant_id",
    "reward",
    "kind",
    "event_id",
    "recorded_at",
)


def _upsert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def insert_reward(session: Session, values: Mapping[str, Any]) -> bool:
    """Insert one reward row; False when the decision already has one for that metric."""
    table: Table = DecisionReward.__table__  # type: ignore[assignment]
    statement = (
        _upsert(session)(table)
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


def confirmed_at(session: Session, *, decision_id: str) -> dt.datetime | None:
    """When the decision was confirmed as sent (the gate allowed it at dispatch), or None."""
    return session.scalar(
        select(DecisionConfirmation.confirmed_at).where(
            DecisionConfirmation.decision_id == decision_id,
            DecisionConfirmation.allowed.is_(true()),
        )
    )


def close_expired_rewards(session: Session, *, now: dt.datetime) -> int:
    """Insert reward 0 (kind 'closed') once for every sent decision of every experiment whose
    attribution window closed before ``now`` without a reward; the number inserted."""
    table: Table = DecisionReward.__table__  # type: ignore[assignment]
    insert = _upsert(session)
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
            .from_select(list(_REWARD_COLUMNS), pending)
            .on_conflict_do_nothing(index_elements=["decision_id", "metric"])
        )
        closed += len(session.execute(statement.returning(table.c.id)).all())
    return closed


def sent_decisions_with_reward(session: Session, *, experiment_id: int, metric: str) -> list[Any]:
    """Rows (variant_id, propensity, reward, explanation) of the experiment's decisions with a
    variant that were confirmed as sent; ``reward`` is None while none is recorded."""
    return list(
        session.execute(
            confirmed_sends(
                Decision.variant_id,
                Decision.propensity,
                DecisionReward.reward,
                Decision.explanation,
                metric=metric,
            ).where(Decision.experiment_id == experiment_id, Decision.variant_id.is_not(None))
        )
    )
