"""Confirm at dispatch: the gate runs again at the dispatch time; an opt-out since then wins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from optimizer.compliance import evaluate
from optimizer.compliance.store_context import build_context
from optimizer.decide.types import ConfirmResult, DecisionReason
from optimizer.errors import NotFound
from optimizer.settings import Settings
from optimizer.store.locks import lock_numbers
from optimizer.store.models import Decision, DecisionConfirmation, Event, Lead

# A stored suppression always counts at dispatch on the server's clock, whatever its time says.
_EVERY_STORED = dt.datetime.max.replace(tzinfo=dt.UTC)


def _existing(session: Session, decision_id: str) -> ConfirmResult | None:
    row = session.scalars(
        select(DecisionConfirmation).where(DecisionConfirmation.decision_id == decision_id)
    ).first()
    if row is None:
        return None
    return ConfirmResult(
        decision_id=decision_id,
        allowed=row.allowed,
        reasons=tuple(
            DecisionReason(r["code"], r["message"], r.get("source")) for r in row.reasons
        ),
        confirmed_at=row.confirmed_at,
        already_confirmed=True,
        event_id=row.event_id,
    )


def confirm_decision(
    session: Session,
    *,
    decision_id: str,
    settings: Settings,
    clock: Callable[[], dt.datetime],
    simulated: bool = False,
) -> ConfirmResult:
    """Re-run the gate at dispatch; idempotent: a second call returns the first answer.

    The number's lock (:func:`lock_numbers`) is taken first and ``clock`` read after it, so an
    opt-out committed before this unit of work got the lock is seen, and one that waits for it
    comes after the send in the store. On the server's clock (``simulated=False``) every stored
    suppression counts, whatever time it carries; a simulated clock sees those up to its time.
    """
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise NotFound(f"decision {decision_id!r} does not exist", field="decision_id")
    lead = session.get(Lead, decision.lead_id)
    assert lead is not None
    lock_numbers(session, [lead.phone_e164])
    now = clock()
    previous = _existing(session, decision_id)
    if previous is not None:
        return previous
    reasons: tuple[DecisionReason, ...]
    event_id: int | None = None
    if decision.action not in ("send_now", "send_at") or not decision.text:
        allowed = False
        reasons = (
            DecisionReason(
                "decision.not_sendable",
                f"decision {decision_id!r} is {decision.action!r}: nothing to send",
            ),
        )
    else:
        context = build_context(
            session,
            lead=lead,
            message=decision.text,
            send_at=now,
            now=now,
            settings=settings,
            suppressions_until=now if simulated else _EVERY_STORED,
        )
        verdict = evaluate(context)
        allowed = verdict.allowed
        reasons = tuple(DecisionReason(r.code, r.message, r.source) for r in verdict.reasons)
        if allowed:
            event = Event(
                idempotency_key=f"decision:{decision_id}:sent",
                lead_id=lead.id,
                type="sent",
                channel="sms",
                occurred_at=now,
                recorded_at=now,
                text=decision.text,
                decision_id=decision_id,
                variant_id=decision.variant_id,
                marketing=True,
                meta={
                    "experiment_id": decision.experiment_id,
                    "rules_version": verdict.rules_version,
                },
            )
            session.add(event)
            session.flush()
            event_id = event.id
            if decision.experiment_id is not None and decision.variant_id is not None:
                from optimizer.bandits.store import record_send

                record_send(
                    session,
                    experiment_id=decision.experiment_id,
                    variant_id=decision.variant_id,
                    propensity=decision.propensity or 1.0,
                )
    confirmation = DecisionConfirmation(
        decision_id=decision_id,
        confirmed_at=now,
        allowed=allowed,
        reasons=[r.to_dict() for r in reasons],
        event_id=event_id,
    )
    try:
        with session.begin_nested():
            session.add(confirmation)
            session.flush()
    except IntegrityError:
        # A concurrent confirm won the race; its answer stands and this one writes nothing.
        session.rollback()
        existing = _existing(session, decision_id)
        assert existing is not None
        return existing
    return ConfirmResult(
        decision_id=decision_id,
        allowed=allowed,
        reasons=reasons,
        confirmed_at=now,
        already_confirmed=False,
        event_id=event_id,
    )
