"""Delayed rewards: outcomes, opt-outs (with the guardrail) and closing expired windows.

A reward attaches to the decision that earned it through ``decision_rewards`` (unique per
decision and metric, inserted with ON CONFLICT DO NOTHING): a replayed outcome inserts nothing
and counts nothing. Counters move only by atomic SQL increments. The caller commits.
"""

from __future__ import annotations

import datetime as dt
import math

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
from optimizer.store import experiments_repo, rewards_repo
from optimizer.store.db import Session
from optimizer.store.events_repo import decision_by_id
from optimizer.store.models import Decision


def _sent_decision(session: Session, decision_id: str) -> tuple[Decision, dt.datetime] | None:
    decision = decision_by_id(session, decision_id)
    if decision is None:
        raise NotFound(f"decision {decision_id!r} does not exist", field="decision_id")
    if decision.experiment_id is None or decision.variant_id is None:
        return None
    confirmed_at = rewards_repo.confirmed_at(session, decision_id=decision_id)
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
    inserted = rewards_repo.insert_reward(
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
    experiments_repo.count_reward(
        session,
        variant_id=decision.variant_id,  # type: ignore[arg-type]  # a sent decision has one
        reward=reward,
        binary=binary,
        now=now,
    )
    return True


def record_opt_out(session: Session, *, decision_id: str, now: dt.datetime) -> bool:
    """Count an opt-out against the sent decision's arm (once), then re-check the guardrail."""
    now = _aware(now)
    sent = _sent_decision(session, decision_id)
    if sent is None:
        return False
    decision, _ = sent
    inserted = rewards_repo.insert_reward(
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
    experiments_repo.count_opt_out(session, variant_id=decision.variant_id, now=now)  # type: ignore[arg-type]
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
        experiments_repo.pause_variant(
            session,
            variant_id=variant.id,
            reason=f"guardrail at {now.isoformat()}: {flag.reason}",
        )
        paused.append(variant.id)
    return paused


def close_expired(session: Session, *, now: dt.datetime) -> int:
    """Give reward 0 (kind 'closed') once to sent decisions whose window closed without one."""
    return rewards_repo.close_expired_rewards(session, now=_aware(now))
