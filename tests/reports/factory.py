"""Rows for report tests, inserted directly with the ORM (no service layer involved).

``Factory`` makes single rows with sensible defaults; ``fill_store`` builds a small but complete
world: a 3-arm experiment (one arm named ``<script>alert(1)</script>``), leads over four weeks,
decisions with quiet-hour / frequency / DNC reasons, sends, replies, conversions and opt-outs,
with ``arm_stats`` and ``decision_rewards`` consistent with the events.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from optimizer.store.models import (
    ArmStats,
    Decision,
    DecisionConfirmation,
    DecisionReward,
    Event,
    Experiment,
    Lead,
    Suppression,
    Variant,
)

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # a Monday
XSS_NAME = "<script>alert(1)</script>"


@dataclass
class Factory:
    session: Session
    now: dt.datetime = T0
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _next(self) -> int:
        return next(self._counter)

    def lead(self, **overrides: Any) -> Lead:
        n = self._next()
        values: dict[str, Any] = {
            "external_id": f"lead-{n}",
            "phone_e164": f"+1305555{n:04d}",
            "state": "FL",
            "timezone": "America/New_York",
            "vertical": "retail",
            "source": "web",
            "attributes": {"first_name": f"Pat{n}"},
            "created_at": self.now,
            "updated_at": self.now,
        }
        values.update(overrides)
        lead = Lead(**values)
        self.session.add(lead)
        self.session.flush()
        return lead

    def experiment(
        self,
        *,
        name: str = "spring-offer",
        metric: str = "reply",
        policy: str = "thompson",
        variants: tuple[str, ...] = ("A", "B"),
        status: str = "running",
    ) -> tuple[Experiment, list[Variant]]:
        experiment = Experiment(
            name=name, metric=metric, policy=policy, policy_params={}, status=status,
            attribution_hours=72, seed=0, created_at=self.now,
        )  # fmt: skip
        self.session.add(experiment)
        self.session.flush()
        rows = []
        for position, variant_name in enumerate(variants):
            variant = Variant(
                experiment_id=experiment.id, name=variant_name,
                template=f"Hi {{first_name}}, offer {position}. Reply STOP to opt out.",
                position=position,
            )  # fmt: skip
            self.session.add(variant)
            rows.append(variant)
        self.session.flush()
        experiment.control_variant_id = rows[0].id
        for variant in rows:
            self.session.add(ArmStats(variant_id=variant.id, experiment_id=experiment.id))
        self.session.flush()
        return experiment, rows

    def arm(self, variant: Variant, **counts: Any) -> ArmStats:
        stats = self.session.get(ArmStats, variant.id)
        assert stats is not None
        for key, value in counts.items():
            setattr(stats, key, value)
        self.session.flush()
        return stats

    def decision(
        self,
        lead: Lead,
        *,
        at: dt.datetime,
        action: str = "send_now",
        variant: Variant | None = None,
        reasons: tuple[str, ...] = (),
        send_at: dt.datetime | None = None,
        segment: str | None = "warm",
        score: float | None = 50.0,
        propensity: float | None = 0.5,
        explanation: dict[str, Any] | None = None,
        choice: str | None = None,
    ) -> Decision:
        allowed = action in ("send_now", "send_at")
        reason_rows = [{"code": c, "message": f"rule {c}"} for c in reasons]
        if variant is not None and choice is not None:
            reason_rows.append(
                {
                    "code": "variant.bandit",
                    "message": f"thompson chose {variant.name!r} with probability "
                    f"{propensity or 0:.3f} ({choice})",
                }
            )
        decision = Decision(
            id=str(uuid.UUID(int=self._next())),
            lead_id=lead.id,
            created_at=at,
            as_of=at,
            action=action,
            send_at=send_at if send_at is not None else (at if action == "send_now" else None),
            timezone=lead.timezone,
            experiment_id=variant.experiment_id if variant is not None else None,
            variant_id=variant.id if variant is not None else None,
            text="Hi there. Reply STOP to opt out." if allowed else None,
            segments=1,
            score=score,
            probability=None if score is None else score / 100,
            segment=segment,
            reasons=reason_rows,
            allowed=allowed,
            compliance={"allowed": allowed, "reasons": [], "next_allowed_at": None},
            propensity=propensity if variant is not None else None,
            explanation=explanation or {},
        )
        self.session.add(decision)
        self.session.flush()
        return decision

    def event(
        self,
        lead: Lead,
        *,
        type: str,
        at: dt.datetime,
        decision: Decision | None = None,
        text: str | None = None,
        value: float | None = None,
        intent: str | None = None,
        channel: str = "sms",
    ) -> Event:
        event = Event(
            idempotency_key=f"evt-{self._next()}",
            lead_id=lead.id,
            type=type,
            channel=channel,
            occurred_at=at,
            recorded_at=at,
            text=text,
            value=value,
            decision_id=decision.id if decision is not None else None,
            variant_id=decision.variant_id if decision is not None else None,
            marketing=type == "sent",
            meta={"intent": intent} if intent else None,
        )
        self.session.add(event)
        self.session.flush()
        return event

    def send(self, lead: Lead, *, at: dt.datetime, variant: Variant | None = None,
             segment: str | None = "warm", propensity: float | None = 0.5,
             choice: str | None = None) -> tuple[Decision, Event]:  # fmt: skip
        decision = self.decision(
            lead,
            at=at,
            variant=variant,
            segment=segment,
            propensity=propensity,
            choice=choice,
            explanation={"top_features": [["recency_days", -0.21], ["sms_replies", 0.35]]},
        )
        self.session.add(
            DecisionConfirmation(decision_id=decision.id, confirmed_at=at, allowed=True)
        )
        event = self.event(lead, type="sent", at=at, decision=decision)
        return decision, event

    def reward(self, decision: Decision, *, metric: str, event: Event, reward: float = 1.0) -> None:
        self.session.add(
            DecisionReward(
                decision_id=decision.id, metric=metric, variant_id=decision.variant_id,
                reward=reward, kind="outcome", event_id=event.id, recorded_at=event.occurred_at,
            )
        )  # fmt: skip
        self.session.flush()

    def suppression(self, lead: Lead, *, reason: str, at: dt.datetime) -> Suppression:
        row = Suppression(
            phone_e164=lead.phone_e164, lead_id=lead.id, action="suppress", reason=reason,
            source="test", created_at=at,
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        return row


@dataclass(frozen=True)
class World:
    experiment_id: int
    variant_names: tuple[str, ...]
    lead_ids: tuple[int, ...]
    start: dt.datetime
    end: dt.datetime


def fill_store(
    session: Session, *, leads: int = 240, days: int = 28, seed: int = 7, start: dt.datetime = T0
) -> World:
    """A small complete world (see module docstring); deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    factory = Factory(session, now=start)
    names = ("Control: friendly reminder", "Urgency: 24h offer", XSS_NAME)
    experiment, variants = factory.experiment(
        name="spring-reactivation", metric="reply", policy="thompson", variants=names
    )
    reply_rates = (0.08, 0.16, 0.05)
    opt_out_rates = (0.005, 0.01, 0.03)
    stats = {v.id: {"sends": 0, "successes": 0, "opt_outs": 0, "revenue_sum": 0.0,
                    "revenue_sum_sq": 0.0, "propensity_inv_sum": 0.0} for v in variants}  # fmt: skip
    zones = ("America/New_York", "America/Chicago", "America/Los_Angeles")
    verticals = ("retail", "healthcare", "b2b")
    segments = ("hot", "warm", "cold")
    lead_ids = []
    for index in range(leads):
        created = start + dt.timedelta(hours=float(rng.uniform(0, days * 24 * 0.7)))
        lead = factory.lead(
            created_at=created, updated_at=created, timezone=zones[index % 3],
            vertical=verticals[int(rng.integers(3))],
        )  # fmt: skip
        lead_ids.append(lead.id)
        segment = segments[int(rng.integers(3))]
        if index % 40 == 0:
            factory.decision(lead, at=created, action="suppress", reasons=("dnc.national",),
                             segment=None, score=None)  # fmt: skip
            factory.suppression(lead, reason="dnc.national", at=created)
            continue
        if index % 5 == 0:
            factory.decision(lead, at=created, action="send_at", reasons=("quiet_hours.state.FL",),
                             send_at=created + dt.timedelta(hours=10), segment=segment)  # fmt: skip
        # Share moves towards the better arm over time, like a bandit would.
        progress = (created - start).total_seconds() / (days * 86400)
        weights = np.array([1.0, 1.0 + 3 * progress, 1.0 - 0.6 * progress])
        touches = 1 + int(rng.integers(3))
        at = created + dt.timedelta(minutes=30)
        for touch in range(touches):
            shares = weights / weights.sum()
            arm = int(rng.choice(3, p=shares))
            variant = variants[arm]
            decision, _sent = factory.send(
                lead, at=at, variant=variant, segment=segment, propensity=float(shares[arm]),
                choice="burn_in" if progress < 0.1 else "policy",
            )  # fmt: skip
            stats[variant.id]["sends"] += 1
            stats[variant.id]["propensity_inv_sum"] += 1.0 / float(shares[arm])
            if rng.random() < reply_rates[arm]:
                reply = factory.event(lead, type="reply", at=at + dt.timedelta(hours=2),
                                      decision=decision, text="Sounds good", intent="other")  # fmt: skip
                factory.reward(decision, metric="reply", event=reply)
                stats[variant.id]["successes"] += 1
                if rng.random() < 0.4:
                    value = float(rng.choice((49.0, 99.0, 149.0)))
                    factory.event(lead, type="conversion", at=at + dt.timedelta(days=2),
                                  decision=decision, value=value)  # fmt: skip
            if rng.random() < opt_out_rates[arm]:
                factory.event(lead, type="inbound", at=at + dt.timedelta(hours=1),
                              text="STOP", intent="opt_out")  # fmt: skip
                factory.suppression(lead, reason="opt_out", at=at + dt.timedelta(hours=1))
                stats[variant.id]["opt_outs"] += 1
                break
            at = at + dt.timedelta(days=4)
            if touch < touches - 1:
                factory.decision(lead, at=at - dt.timedelta(days=1), action="hold",
                                 reasons=("frequency.house_7d",), segment=segment)  # fmt: skip
    for variant in variants:
        factory.arm(variant, **stats[variant.id])
    session.flush()
    return World(
        experiment_id=experiment.id,
        variant_names=names,
        lead_ids=tuple(lead_ids),
        start=start,
        end=start + dt.timedelta(days=days + 14),
    )
