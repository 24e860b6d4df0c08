"""An experiment's decision log for off-policy evaluation: one row per sent decision whose
reward is known, with the variant chosen and the propensity the policy logged for it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Select, and_, select, true
from sqlalchemy.orm import Session

from optimizer.errors import NotFound
from optimizer.store.models import (
    Decision,
    DecisionConfirmation,
    DecisionReward,
    Experiment,
    Variant,
)


def confirmed_sends(*columns: Any, metric: str) -> Select[Any]:
    """``columns`` over the decisions confirmed as sent, each with its reward for ``metric``
    (outer-joined: ``None`` while none is recorded)."""
    return (
        select(*columns)
        .join(
            DecisionConfirmation,
            and_(
                DecisionConfirmation.decision_id == Decision.id,
                DecisionConfirmation.allowed.is_(true()),
            ),
        )
        .outerjoin(
            DecisionReward,
            and_(DecisionReward.decision_id == Decision.id, DecisionReward.metric == metric),
        )
    )


@dataclass(frozen=True)
class VariantLog:
    experiment_id: int
    experiment_name: str
    metric: str
    variant_names: tuple[str, ...]  # in the experiment's variant order
    arm: np.ndarray  # (n,) index into variant_names
    propensity: np.ndarray  # (n,) logged probability of the chosen variant
    reward: np.ndarray  # (n,)
    unlogged: int  # sent, resolved decisions without a usable propensity (left out)
    pending: int  # sent decisions whose reward is not known yet (left out)


def load_variant_log(session: Session, experiment_id: int) -> VariantLog:
    """Confirmed sends of ``experiment_id`` with their reward for the experiment's metric
    (an outcome or a closed window's 0) and logged propensity, oldest first."""
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise NotFound(f"experiment {experiment_id!r} does not exist", field="experiment_id")
    variants = session.scalars(
        select(Variant)
        .where(Variant.experiment_id == experiment_id)
        .order_by(Variant.position, Variant.id)
    ).all()
    index = {v.id: i for i, v in enumerate(variants)}
    rows = session.execute(
        confirmed_sends(
            Decision.variant_id,
            Decision.propensity,
            DecisionReward.reward,
            metric=experiment.metric,
        )
        .where(Decision.experiment_id == experiment_id, Decision.variant_id.is_not(None))
        .order_by(Decision.created_at, Decision.id)
    ).all()
    arm, propensity, reward = [], [], []
    unlogged = pending = 0
    for variant_id, p, r in rows:
        if r is None:
            pending += 1
            continue
        if p is None or not 0 < p <= 1 or variant_id not in index:
            unlogged += 1
            continue
        arm.append(index[variant_id])
        propensity.append(float(p))
        reward.append(float(r))
    return VariantLog(
        experiment_id=experiment.id,
        experiment_name=experiment.name,
        metric=experiment.metric,
        variant_names=tuple(v.name for v in variants),
        arm=np.asarray(arm, dtype=np.int64),
        propensity=np.asarray(propensity, dtype=float),
        reward=np.asarray(reward, dtype=float),
        unlogged=unlogged,
        pending=pending,
    )


@dataclass(frozen=True)
class SlotLogRows:
    """An experiment's confirmed sends with their reward and what the decision logged about its
    send slot (``explanation["slot"]``, decoded by ``optimizer.ope.slots``), oldest first."""

    experiment_id: int
    experiment_name: str
    metric: str
    as_of: list[dt.datetime]  # the decision's time (slot 0; the later slots are full hours)
    timezone: list[str | None]  # the recipient's display zone at the decision
    slot: list[dict[str, Any]]  # the logged slot choice
    propensity: np.ndarray  # (n,) the logged probability of the chosen slot
    reward: np.ndarray  # (n,)
    unlogged: int  # resolved sends whose decision logged no slot choice (older decisions)
    pending: int  # sends whose reward is not known yet


def load_slot_log(session: Session, experiment_id: int) -> SlotLogRows:
    """Confirmed sends of ``experiment_id`` with the experiment metric's reward and the slot
    choice their decision logged."""
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise NotFound(f"experiment {experiment_id!r} does not exist", field="experiment_id")
    rows = session.execute(
        confirmed_sends(
            Decision.as_of,
            Decision.timezone,
            Decision.explanation,
            Decision.slot_propensity,
            DecisionReward.reward,
            metric=experiment.metric,
        )
        .where(Decision.experiment_id == experiment_id)
        .order_by(Decision.created_at, Decision.id)
    ).all()
    as_of: list[dt.datetime] = []
    zones: list[str | None] = []
    slots: list[dict[str, Any]] = []
    propensity, reward = [], []
    unlogged = pending = 0
    for at, zone, explanation, p, r in rows:
        if r is None:
            pending += 1
            continue
        slot = (explanation or {}).get("slot")
        if not isinstance(slot, dict) or p is None or not 0 < p <= 1:
            unlogged += 1
            continue
        as_of.append(at)
        zones.append(zone)
        slots.append(slot)
        propensity.append(float(p))
        reward.append(float(r))
    return SlotLogRows(
        experiment_id=experiment.id,
        experiment_name=experiment.name,
        metric=experiment.metric,
        as_of=as_of,
        timezone=zones,
        slot=slots,
        propensity=np.asarray(propensity, dtype=float),
        reward=np.asarray(reward, dtype=float),
        unlogged=unlogged,
        pending=pending,
    )
