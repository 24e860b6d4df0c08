"""The sales hand-off list: leads whose latest qualifying reply was ``interested`` or a
``question`` (the reply intent ingest stores in the event's meta), newest first.

A lead whose number is suppressed now (an opt-out after the reply, any channel) is not listed:
sales must not call someone who asked us to stop. No message text is listed (the lead's own
page shows the timeline).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from optimizer.compliance.intent import HANDOFF_INTENTS
from optimizer.reports.common import Jsonable
from optimizer.service.events import LEAD_TEXT_TYPES
from optimizer.store.models import Event, Lead, Suppression


@dataclass(frozen=True)
class Handoff(Jsonable):
    lead_id: int
    external_id: str | None
    intent: str
    channel: str
    event_id: int
    occurred_at: dt.datetime


@dataclass(frozen=True)
class HandoffPage(Jsonable):
    total: int
    limit: int
    offset: int
    items: tuple[Handoff, ...]


def _suppressed(session: Session, phones: set[str]) -> set[str]:
    latest: dict[str, str] = {}
    ordered = sorted(phones)
    for start in range(0, len(ordered), 5000):
        chunk = ordered[start : start + 5000]
        for phone, action in session.execute(
            select(Suppression.phone_e164, Suppression.action)
            .where(Suppression.phone_e164.in_(chunk))
            .order_by(Suppression.created_at, Suppression.id)
        ):
            latest[phone] = action
    return {phone for phone, action in latest.items() if action == "suppress"}


def handoff_list(session: Session, *, limit: int = 50, offset: int = 0) -> HandoffPage:
    """One row per lead (its latest ``interested``/``question`` reply), newest first."""
    intent = Event.meta["reply_intent"].as_string()
    rows = session.execute(
        select(
            Event.id,
            Event.lead_id,
            Event.channel,
            Event.occurred_at,
            intent.label("intent"),
            Lead.external_id,
            Lead.phone_e164,
        )
        .join(Lead, Lead.id == Event.lead_id)
        .where(Event.type.in_(LEAD_TEXT_TYPES), intent.in_(HANDOFF_INTENTS))
        .order_by(Event.occurred_at.desc(), Event.id.desc())
    ).all()
    suppressed = _suppressed(session, {row.phone_e164 for row in rows})
    seen: set[int] = set()
    items: list[Handoff] = []
    for row in rows:
        if row.lead_id in seen or row.phone_e164 in suppressed:
            continue
        seen.add(row.lead_id)
        items.append(
            Handoff(
                lead_id=row.lead_id,
                external_id=row.external_id,
                intent=str(row.intent),
                channel=row.channel,
                event_id=row.id,
                occurred_at=row.occurred_at,
            )
        )
    return HandoffPage(
        total=len(items), limit=limit, offset=offset, items=tuple(items[offset : offset + limit])
    )
