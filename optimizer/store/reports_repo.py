"""The reads behind the marketers' reports: sends with their decisions, outcomes, the
decisions, deferrals and DNC suppressions of a period, the sends made around the gate, the
hand-off replies and the span of the store's activity. Rows, in the orders the reports rely on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select

from optimizer.store.db import Session
from optimizer.store.models import Decision, Event, Experiment, Lead, Suppression, Variant


def variant_labels(session: Session) -> dict[int, str]:
    """``variant_id -> "experiment / variant"`` for every variant in the store."""
    rows = session.execute(
        select(Variant.id, Variant.name, Experiment.name).join(
            Experiment, Experiment.id == Variant.experiment_id
        )
    )
    return {vid: f"{exp} / {name}" for vid, name, exp in rows}


def sends_until(session: Session, *, until: dt.datetime) -> list[Any]:
    """Every ``sent`` event before ``until`` in time order, with its decision (when it has
    one) and its lead: rows (event id, lead id, occurred_at, decision id, event variant id,
    found decision id, send_at, decision zone, experiment id, decision variant id, segment,
    vertical, lead zone)."""
    return list(
        session.execute(
            select(
                Event.id, Event.lead_id, Event.occurred_at, Event.decision_id, Event.variant_id,
                Decision.id, Decision.send_at, Decision.timezone, Decision.experiment_id,
                Decision.variant_id, Decision.segment, Lead.vertical, Lead.timezone,
            )
            .join(Lead, Lead.id == Event.lead_id)
            .outerjoin(Decision, Decision.id == Event.decision_id)
            .where(Event.type == "sent", Event.occurred_at < until)
            .order_by(Event.occurred_at, Event.id)
        )
    )  # fmt: skip


def events_in(
    session: Session, *, start: dt.datetime, end: dt.datetime, types: Collection[str]
) -> list[Any]:
    """Rows (id, lead_id, type, occurred_at, value, meta) of events of ``types`` in
    ``[start, end)``, in time order."""
    return list(
        session.execute(
            select(Event.id, Event.lead_id, Event.type, Event.occurred_at, Event.value, Event.meta)
            .where(
                Event.type.in_(tuple(types)), Event.occurred_at >= start, Event.occurred_at < end
            )
            .order_by(Event.occurred_at, Event.id)
        )
    )


def activity_bounds(
    session: Session, *, readable_start: dt.datetime, readable_end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """(first, last) event time and (first, last) decision time inside the readable range,
    for each of the two that has any."""
    bounds = []
    for column in (Event.occurred_at, Decision.as_of):
        readable = (column >= readable_start, column < readable_end)
        low, high = session.execute(
            select(func.min(column), func.max(column)).where(*readable)
        ).one()
        if low is not None:
            bounds.append((low, high))
    return bounds


def decisions_in(session: Session, *, start: dt.datetime, end: dt.datetime) -> list[Any]:
    """Rows (lead_id, as_of) of the decisions taken for times in ``[start, end)``."""
    return list(
        session.execute(
            select(Decision.lead_id, Decision.as_of).where(
                Decision.as_of >= start, Decision.as_of < end
            )
        )
    )


def decisions_with_reasons_in(
    session: Session, *, start: dt.datetime, end: dt.datetime, actions: Collection[str]
) -> list[Any]:
    """Rows (lead_id, as_of, action, reasons, compliance) of the decisions with one of
    ``actions`` taken for times in ``[start, end)``."""
    return list(
        session.execute(
            select(
                Decision.lead_id, Decision.as_of, Decision.action, Decision.reasons,
                Decision.compliance,
            ).where(
                Decision.as_of >= start, Decision.as_of < end, Decision.action.in_(tuple(actions))
            )
        )
    )  # fmt: skip


def dnc_suppressions_in(session: Session, *, start: dt.datetime, end: dt.datetime) -> list[Any]:
    """Rows (lead_id, phone_e164, created_at) of the DNC suppressions stored in ``[start, end)``."""
    return list(
        session.execute(
            select(Suppression.lead_id, Suppression.phone_e164, Suppression.created_at).where(
                Suppression.action == "suppress",
                Suppression.reason.like("dnc%"),
                Suppression.created_at >= start,
                Suppression.created_at < end,
            )
        )
    )


def sends_with_meta_in(session: Session, *, start: dt.datetime, end: dt.datetime) -> list[Any]:
    """Rows (id, lead_id, occurred_at, meta) of the ``sent`` events in ``[start, end)`` that
    carry metadata, newest first."""
    return list(
        session.execute(
            select(Event.id, Event.lead_id, Event.occurred_at, Event.meta)
            .where(
                Event.type == "sent",
                Event.occurred_at >= start,
                Event.occurred_at < end,
                Event.meta.is_not(None),
            )
            .order_by(Event.occurred_at.desc(), Event.id.desc())
        )
    )


def replies_with_intent(
    session: Session, *, types: Collection[str], intents: Collection[str]
) -> list[Any]:
    """Rows (id, lead_id, channel, occurred_at, intent, external_id, phone_e164) of the leads'
    messages of ``types`` whose reply intent is one of ``intents``, newest first."""
    intent = Event.meta["reply_intent"].as_string()
    return list(
        session.execute(
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
            .where(Event.type.in_(tuple(types)), intent.in_(tuple(intents)))
            .order_by(Event.occurred_at.desc(), Event.id.desc())
        )
    )
