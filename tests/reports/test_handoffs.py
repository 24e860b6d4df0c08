"""The hand-off list: one row per lead (its latest interested/question reply), newest first,
paginated, and no lead who opted out since."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from optimizer.ingest.events import EventInput, ingest_events
from optimizer.reports import handoff_list
from optimizer.settings import Settings
from optimizer.store.db import session_factory, transaction
from optimizer.store.models import Lead

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)


def test_handoffs_newest_first_paginated_without_opted_out_leads(any_engine: Engine) -> None:
    with transaction(session_factory(any_engine)) as session:
        leads = []
        for n in range(4):
            lead = Lead(
                external_id=f"h-{n}",
                phone_e164=f"+1212555014{n}",
                attributes={},
                created_at=NOW - dt.timedelta(days=2),
                updated_at=NOW - dt.timedelta(days=2),
            )
            session.add(lead)
            session.flush()
            leads.append(lead)
        replies = [
            (leads[0], "reply", "Yes, call me tomorrow", 1),
            (leads[1], "webchat", "What are your opening hours?", 2),
            (leads[2], "reply", "I'd like to book a cleaning", 3),
            (leads[2], "reply", "STOP", 4),  # opted out after: no hand-off
            (leads[3], "reply", "no thanks", 5),
            (leads[0], "reply", "How much is it?", 6),  # lead 0 again, newest
        ]
        events = [
            EventInput(
                idempotency_key=f"r-{minute}",
                lead_id=lead.id,
                type=kind,
                channel="webchat" if kind == "webchat" else "sms",
                occurred_at=NOW + dt.timedelta(minutes=minute),
                text=text,
            )
            for lead, kind, text, minute in replies
        ]
        ingest_events(session, events=events, settings=Settings(), now=NOW + dt.timedelta(hours=1))
        page = handoff_list(session)
        assert [(h.lead_id, h.intent) for h in page.items] == [
            (leads[0].id, "interested"),
            (leads[1].id, "question"),
        ]
        assert page.total == 2
        assert page.items[0].occurred_at == NOW + dt.timedelta(minutes=6)
        second = handoff_list(session, limit=1, offset=1)
        assert [h.lead_id for h in second.items] == [leads[1].id] and second.total == 2
        assert "text" not in page.to_dict()["items"][0]
