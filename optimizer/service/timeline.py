"""One lead's timeline across channels: events, consent records, suppressions and decisions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from optimizer.store.models import Consent, Decision, Event, Lead, Suppression


def lead_timeline(session: Session, *, lead: Lead) -> list[dict[str, Any]]:
    """Entries in time order; a voice call after a text can see what the text said."""
    entries: list[dict[str, Any]] = []
    for event in session.scalars(select(Event).where(Event.lead_id == lead.id)):
        entries.append(
            {
                "at": event.occurred_at.isoformat(),
                "kind": "event",
                "type": event.type,
                "channel": event.channel,
                "text": event.text,
                "value": event.value,
                "decision_id": event.decision_id,
                "marketing": event.marketing,
                "meta": event.meta or {},
                "id": event.id,
            }
        )
    for consent in session.scalars(select(Consent).where(Consent.phone_e164 == lead.phone_e164)):
        entries.append(
            {
                "at": consent.occurred_at.isoformat(),
                "kind": f"consent.{consent.kind}",
                "channel": consent.channel or consent.method,
                "text": consent.raw_text if consent.kind == "revoke" else consent.disclosure_text,
                "brand": consent.brand,
                "rule": consent.rule_matched,
                "id": consent.id,
            }
        )
    for row in session.scalars(
        select(Suppression).where(Suppression.phone_e164 == lead.phone_e164)
    ):
        entries.append(
            {
                "at": row.created_at.isoformat(),
                "kind": f"suppression.{row.action}",
                "reason": row.reason,
                "source": row.source,
                "id": row.id,
            }
        )
    for decision in session.scalars(select(Decision).where(Decision.lead_id == lead.id)):
        entries.append(
            {
                "at": decision.created_at.isoformat(),
                "kind": "decision",
                "action": decision.action,
                "send_at": decision.send_at.isoformat() if decision.send_at else None,
                "text": decision.text,
                "reasons": decision.reasons,
                "id": decision.id,
            }
        )
    entries.sort(key=lambda e: (e["at"], e["kind"]))
    return entries
