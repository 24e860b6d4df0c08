"""Leads in the store: find, create, record their changes, append consent grants, and read one
lead's history (its events, ledger, suppressions and decisions) for its timeline and report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from optimizer.store.db import Session
from optimizer.store.models import (
    Consent,
    Decision,
    DecisionConfirmation,
    Event,
    Lead,
    LeadChange,
    Suppression,
)

MAX_ROW_ID = 2**63 - 1  # row ids are 64-bit signed in every store


def lead_by_id(session: Session, lead_id: int) -> Lead | None:
    """The lead in the session, or None; an id no row can have is not sent to the driver
    (which cannot bind one above 2**63 - 1)."""
    return session.get(Lead, lead_id) if 1 <= lead_id <= MAX_ROW_ID else None


def lead_by_external_id(session: Session, *, external_id: str) -> Lead | None:
    return session.scalars(select(Lead).where(Lead.external_id == external_id)).first()


def add_lead(
    session: Session,
    *,
    external_id: str,
    created_at: dt.datetime,
    now: dt.datetime,
    fields: Mapping[str, Any],
) -> Lead:
    lead = Lead(external_id=external_id, created_at=created_at, updated_at=now, **fields)
    session.add(lead)
    session.flush()
    return lead


def append_lead_change(
    session: Session, *, lead: Lead, changes: Mapping[str, Any], now: dt.datetime, source: str
) -> None:
    """Record the changes already set on ``lead`` (append-only ``lead_changes``)."""
    lead.updated_at = now
    session.add(LeadChange(lead_id=lead.id, changed_at=now, changes=dict(changes), source=source))
    session.flush()


def append_consent(session: Session, row: Consent) -> Consent:
    """Append a ledger entry (append-only ``consents``); flushed, so its id is known."""
    session.add(row)
    session.flush()
    return row


# --- one lead's history -------------------------------------------------------------------


def events_of_lead(session: Session, *, lead_id: int, newest: int | None = None) -> list[Event]:
    """The lead's events: all of them in the store's order, or the ``newest`` ones, newest
    first."""
    statement = select(Event).where(Event.lead_id == lead_id)
    if newest is not None:
        statement = statement.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(newest)
    return list(session.scalars(statement))


def decisions_of_lead(
    session: Session, *, lead_id: int, newest: int | None = None
) -> list[Decision]:
    """The lead's decisions: all of them in the store's order, or the ``newest`` ones (by
    decision time, then log time), newest first."""
    statement = select(Decision).where(Decision.lead_id == lead_id)
    if newest is not None:
        statement = statement.order_by(Decision.as_of.desc(), Decision.created_at.desc()).limit(
            newest
        )
    return list(session.scalars(statement))


def consents_of_phone(session: Session, *, phone_e164: str) -> list[Consent]:
    return list(session.scalars(select(Consent).where(Consent.phone_e164 == phone_e164)))


def suppressions_of_phone(session: Session, *, phone_e164: str) -> list[Suppression]:
    return list(session.scalars(select(Suppression).where(Suppression.phone_e164 == phone_e164)))


def latest_consent(session: Session, *, phone_e164: str) -> Consent | None:
    return session.scalars(
        select(Consent)
        .where(Consent.phone_e164 == phone_e164)
        .order_by(Consent.occurred_at.desc(), Consent.id.desc())
        .limit(1)
    ).first()


def latest_suppression(session: Session, *, phone_e164: str) -> Suppression | None:
    return session.scalars(
        select(Suppression)
        .where(Suppression.phone_e164 == phone_e164)
        .order_by(Suppression.created_at.desc(), Suppression.id.desc())
        .limit(1)
    ).first()


def confirmations_of(session: Session, *, decision_ids: Sequence[str]) -> dict[str, bool]:
    """Decision id -> whether the gate allowed it at dispatch, for the confirmed ones."""
    return {
        c.decision_id: c.allowed
        for c in session.scalars(
            select(DecisionConfirmation).where(DecisionConfirmation.decision_id.in_(decision_ids))
        )
    }
