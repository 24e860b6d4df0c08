"""Per-(lead features, variant) counts of an experiment's sends, from the decision log.

What a contextual policy needs beyond ``arm_stats``: for every combination of the lead's
source and vertical, the decision's score band (``decisions.segment``, logged at the decision)
and the variant, the confirmed sends and those rewarded (a reward > 0 for the experiment's
metric). The counts follow ``arm_stats``'s definitions: a send counts at confirm, a pending
reward counts as no success. One grouped query; the caller maps the feature values to segment
keys (``optimizer.bandits.contextual.segment_key``, the one definition).

The lead's source and vertical are read as the lead has them now (the decision log keeps the
score band, not them): a lead whose vertical changes takes its history to the new segment.
The query's cost grows with the experiment's sends; the bandit engine reuses its last answer
while the arms' totals are unchanged (``optimizer.bandits.experiment_store``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, case, func, select, true
from sqlalchemy.orm import Session

from optimizer.store.db import core_execute
from optimizer.store.models import Decision, DecisionConfirmation, DecisionReward, Lead


@dataclass(frozen=True, slots=True)
class SegmentArmCount:
    source: str | None
    vertical: str | None
    band: str | None
    variant_id: int
    sends: int
    successes: int


_COUNTS = (
    select(
        Lead.source,
        Lead.vertical,
        Decision.segment,
        Decision.variant_id,
        func.count().label("sends"),
        func.coalesce(func.sum(case((DecisionReward.reward > 0, 1), else_=0)), 0).label(
            "successes"
        ),
    )
    .select_from(Decision)
    .join(
        DecisionConfirmation,
        and_(
            DecisionConfirmation.decision_id == Decision.id,
            DecisionConfirmation.allowed.is_(true()),
        ),
    )
    .join(Lead, Lead.id == Decision.lead_id)
    .outerjoin(
        DecisionReward,
        and_(
            DecisionReward.decision_id == Decision.id,
            DecisionReward.metric == bindparam("metric"),
        ),
    )
    .where(
        Decision.experiment_id == bindparam("experiment_id"),
        Decision.variant_id.is_not(None),
    )
    .group_by(Lead.source, Lead.vertical, Decision.segment, Decision.variant_id)
)


def segment_arm_counts(
    session: Session, *, experiment_id: int, metric: str
) -> list[SegmentArmCount]:
    """Confirmed sends and rewarded sends of ``experiment_id`` per (source, vertical, band,
    variant)."""
    rows = core_execute(session, _COUNTS, {"experiment_id": experiment_id, "metric": metric})
    return [
        SegmentArmCount(
            source=row.source,
            vertical=row.vertical,
            band=row.segment,
            variant_id=int(row.variant_id),
            sends=int(row.sends),
            successes=int(row.successes),
        )
        for row in rows
    ]
