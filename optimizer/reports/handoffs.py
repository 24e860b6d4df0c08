"""The sales hand-off list: leads whose latest qualifying reply was ``interested`` or a
``question`` (the reply intent ingest stores in the event's meta), newest first.

A lead whose number is suppressed now (an opt-out after the reply, any channel) is not listed:
sales must not call someone who asked us to stop. No message text is listed (the lead's own
page shows the timeline).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from optimizer.compliance.intent import HANDOFF_INTENTS
from optimizer.ingest.events import LEAD_TEXT_TYPES
from optimizer.reports.common import Jsonable
from optimizer.store import reports_repo
from optimizer.store.compliance_repo import suppressions_of_phones
from optimizer.store.db import Session


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
    for row in suppressions_of_phones(session, phones=sorted(phones), now=None):
        latest[row.phone_e164] = row.action
    return {phone for phone, action in latest.items() if action == "suppress"}


def handoff_list(session: Session, *, limit: int = 50, offset: int = 0) -> HandoffPage:
    """One row per lead (its latest ``interested``/``question`` reply), newest first."""
    rows = reports_repo.replies_with_intent(session, types=LEAD_TEXT_TYPES, intents=HANDOFF_INTENTS)
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
