"""Reads for learning uplift from the service's own randomised holdouts: the experiments, their
assigned decisions (a text the gate allowed, or a hold of the holdout) with whether the text was
confirmed sent, and the leads' outcome events.

The store knows no policy: which experiments hold leads out (their ``policy_params``) and which
reason code marks a held-out decision are the caller's to say.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, select, true

from optimizer.store.db import Session
from optimizer.store.models import Decision, DecisionConfirmation, Event, Experiment

CHUNK = 5_000
ASSIGNED_ACTIONS = ("send_now", "send_at", "hold")


@dataclass(frozen=True)
class ExperimentRow:
    experiment_id: int
    name: str
    metric: str
    policy_params: dict[str, Any]


@dataclass(frozen=True)
class AssignedDecision:
    """One decision of an experiment: sendable, or held (by the holdout or by the gate)."""

    decision_id: str
    experiment_id: int
    lead_id: int
    decided_at: dt.datetime  # aware UTC
    action: str
    held_out: bool  # a hold whose reasons carry the holdout's code
    sent: bool  # its dispatch-time confirmation allowed the text
    propensity: float | None
    # The lead score the decision logged (its calibrated probability and hot/warm/cold band):
    # what a targeting rule evaluated off-policy reads.
    probability: float | None = None
    segment: str | None = None


@dataclass(frozen=True)
class OutcomeEvent:
    lead_id: int
    type: str
    occurred_at: dt.datetime  # aware UTC
    value: float | None
    intent: str | None  # the inbound classification stored with the event, if any


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def list_experiments(session: Session) -> list[ExperimentRow]:
    """Every experiment, by id."""
    rows = session.execute(
        select(
            Experiment.id, Experiment.name, Experiment.metric, Experiment.policy_params
        ).order_by(Experiment.id)
    ).all()
    return [ExperimentRow(int(i), str(n), str(m), dict(p or {})) for i, n, m, p in rows]


def load_assigned_decisions(
    session: Session,
    *,
    experiment_ids: Sequence[int],
    holdout_reason: str,
    before: dt.datetime | None = None,
) -> list[AssignedDecision]:
    """Decisions of ``experiment_ids`` made before ``before`` (``None``: every one) whose
    action is a text or a hold, oldest first, each with whether its confirmation allowed the
    send."""
    if not experiment_ids:
        return []
    bounds: list[ColumnElement[bool]] = [
        Decision.experiment_id.in_([int(i) for i in experiment_ids]),
        Decision.action.in_(ASSIGNED_ACTIONS),
    ]
    if before is not None:
        bounds.append(Decision.created_at < before)
    rows = session.execute(
        select(
            Decision.id,
            Decision.experiment_id,
            Decision.lead_id,
            Decision.created_at,
            Decision.action,
            Decision.reasons,
            Decision.propensity,
            DecisionConfirmation.allowed,
            Decision.probability,
            Decision.segment,
        )
        .outerjoin(
            DecisionConfirmation,
            and_(
                DecisionConfirmation.decision_id == Decision.id,
                DecisionConfirmation.allowed.is_(true()),
            ),
        )
        .where(*bounds)
        .order_by(Decision.created_at, Decision.id)
    ).all()
    out: list[AssignedDecision] = []
    for (
        decision_id,
        experiment_id,
        lead_id,
        created_at,
        action,
        reasons,
        p,
        allowed,
        probability,
        segment,
    ) in rows:
        held = action == "hold" and any(
            isinstance(r, dict) and r.get("code") == holdout_reason for r in reasons or ()
        )
        out.append(
            AssignedDecision(
                decision_id=str(decision_id),
                experiment_id=int(experiment_id),
                lead_id=int(lead_id),
                decided_at=_utc(created_at),
                action=str(action),
                held_out=held,
                sent=bool(allowed) and action != "hold",
                propensity=None if p is None else float(p),
                probability=None if probability is None else float(probability),
                segment=None if segment is None else str(segment),
            )
        )
    return out


def load_outcome_events(
    session: Session,
    *,
    lead_ids: Sequence[int],
    types: Sequence[str],
    before: dt.datetime | None = None,
) -> list[OutcomeEvent]:
    """Events of ``types`` of ``lead_ids`` that occurred before ``before`` (``None``: every
    one), with their intent."""
    unique = sorted({int(i) for i in lead_ids})
    out: list[OutcomeEvent] = []
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        bounds: list[ColumnElement[bool]] = [Event.lead_id.in_(chunk), Event.type.in_(list(types))]
        if before is not None:
            bounds.append(Event.occurred_at < before)
        for lead_id, kind, occurred_at, value, meta in session.execute(
            select(Event.lead_id, Event.type, Event.occurred_at, Event.value, Event.meta).where(
                *bounds
            )
        ):
            intent = (meta or {}).get("intent") if isinstance(meta, dict) else None
            out.append(
                OutcomeEvent(
                    lead_id=int(lead_id),
                    type=str(kind),
                    occurred_at=_utc(occurred_at),
                    value=None if value is None else float(value),
                    intent=None if intent is None else str(intent),
                )
            )
    return out
