"""Factories for the bandit store tests: experiments, sent decisions."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pytest
from sqlalchemy.orm import Session

from optimizer.bandits.store import create_experiment
from optimizer.store.models import Decision, DecisionConfirmation, Experiment, Lead

T0 = dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC)
_ids = itertools.count(1)


def make_lead(session: Session, *, source: str | None = None, vertical: str | None = None) -> Lead:
    lead = Lead(
        external_id=f"L{next(_ids)}-{uuid.uuid4().hex[:6]}",
        phone_e164="+13055550142",
        attributes={},
        source=source,
        vertical=vertical,
        created_at=T0,
        updated_at=T0,
    )
    session.add(lead)
    session.flush()
    return lead


def make_experiment(
    session: Session,
    *,
    name: str = "welcome",
    metric: str = "reply",
    policy: str = "thompson",
    n_variants: int = 3,
    params: dict | None = None,
    attribution_hours: int = 72,
) -> Experiment:
    return create_experiment(
        session,
        name=name,
        metric=metric,
        policy=policy,
        variants=[(chr(65 + i), f"Hi {{first_name}} #{i}") for i in range(n_variants)],
        control="A",
        params=params,
        attribution_hours=attribution_hours,
        seed=7,
        now=T0,
    )


def sent_decision(
    session: Session,
    *,
    lead_id: int,
    experiment_id: int,
    variant_id: int,
    propensity: float,
    at: dt.datetime = T0,
    allowed: bool = True,
    probabilities: tuple[tuple[int, float], ...] = (),
    segment: str | None = None,
) -> str:
    """A sent decision; ``probabilities`` (variant id, probability) are logged as the decision
    service logs them (the sample-ratio check then compares expected counts)."""
    decision_id = str(uuid.uuid4())
    session.add(
        Decision(
            id=decision_id,
            lead_id=lead_id,
            created_at=at,
            as_of=at,
            action="send_now",
            reasons=[],
            allowed=True,
            compliance={},
            model_versions={},
            explanation={"variant_probabilities": {str(v): p for v, p in probabilities}}
            if probabilities
            else {},
            experiment_id=experiment_id,
            variant_id=variant_id,
            propensity=propensity,
            segment=segment,
        )
    )
    session.flush()
    session.add(
        DecisionConfirmation(decision_id=decision_id, confirmed_at=at, allowed=allowed, reasons=[])
    )
    session.flush()
    return decision_id


@pytest.fixture
def t0() -> dt.datetime:
    return T0
