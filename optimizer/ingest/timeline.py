"""One lead's timeline across channels: events, consent records, suppressions and decisions."""

from __future__ import annotations

from typing import Any

from optimizer.store import leads_repo
from optimizer.store.db import Session
from optimizer.store.models import Lead


def lead_timeline(session: Session, *, lead: Lead) -> list[dict[str, Any]]:
    """Entries in time order; a voice call after a text can see what the text said."""
    entries: list[dict[str, Any]] = []
    for event in leads_repo.events_of_lead(session, lead_id=lead.id):
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
    for consent in leads_repo.consents_of_phone(session, phone_e164=lead.phone_e164):
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
    for row in leads_repo.suppressions_of_phone(session, phone_e164=lead.phone_e164):
        entries.append(
            {
                "at": row.created_at.isoformat(),
                "kind": f"suppression.{row.action}",
                "reason": row.reason,
                "source": row.source,
                "id": row.id,
            }
        )
    for decision in leads_repo.decisions_of_lead(session, lead_id=lead.id):
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
