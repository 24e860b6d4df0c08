"""Reading a lead's facts and writing / reading the decision log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session, make_transient_to_detached

from optimizer.decide.render import LeadFacts
from optimizer.decide.types import DecisionReason, DecisionRecord, TopFeature
from optimizer.errors import NotFound
from optimizer.store.db import core_execute, core_insert_one
from optimizer.store.events import LeadEvents
from optimizer.store.models import Decision, DecisionConfirmation, Event, Lead, Variant

_LATEST_EVENT_BY_TYPE = (
    select(Event.type, func.max(Event.occurred_at))
    .where(Event.lead_id == bindparam("lead"), Event.occurred_at <= bindparam("now"))
    .group_by(Event.type)
)


# Every mapped column of a lead, labelled with its attribute's name.
_LEAD_BY_ID = select(
    *(getattr(Lead, attr.key).label(attr.key) for attr in Lead.__mapper__.column_attrs)
).where(Lead.id == bindparam("lead"))


def read_lead(session: Session, lead_id: int) -> Lead | None:
    """The lead's row as a detached ``Lead`` (not in the session; for reading), with one Core
    select: ``session.get`` costs about three times as much on the decision's path."""
    row = core_execute(session, _LEAD_BY_ID, {"lead": lead_id}).first()
    if row is None:
        return None
    lead = Lead(**row._mapping)
    make_transient_to_detached(lead)
    return lead


_LEAD_EVENTS_UP_TO = select(
    Event.type,
    Event.channel,
    Event.occurred_at,
    Event.value,
    Event.marketing,
    Event.meta,
    Event.text,
).where(Event.lead_id == bindparam("lead"), Event.occurred_at <= bindparam("now"))


def load_lead_events(session: Session, *, lead_id: int, now: dt.datetime) -> LeadEvents:
    """Every event of the lead up to ``now`` (inclusive) in one read, in the order the store
    returns them (its (lead, time) index), for the single-lead decision's readers to share:
    the derived tokens (:func:`load_facts`), the gate's sends and replies, the lead-score
    features and the send-time inputs each filter these rows as their own query would."""
    rows = core_execute(session, _LEAD_EVENTS_UP_TO, {"lead": lead_id, "now": now}).all()
    return LeadEvents(lead_id=lead_id, now=now, rows=tuple(rows))


def load_facts(
    session: Session, *, lead: Lead, now: dt.datetime, events: LeadEvents | None = None
) -> LeadFacts:
    """The latest visit, purchase and reply before ``now``, and whether the lead was ever texted
    (what :func:`load_facts_many` gives for this lead, with a statement built once; from
    ``events`` when they are this lead's up to this ``now``)."""
    if events is not None and events.covers(lead.id, now):
        latest: dict[str, dt.datetime] = {}
        for row in events.rows:
            if row.occurred_at is not None and (
                row.type not in latest or row.occurred_at > latest[row.type]
            ):
                latest[row.type] = row.occurred_at
        return _facts(lead, {kind: _aware(at) for kind, at in latest.items()})
    latest = {
        kind: _aware(at)
        for kind, at in core_execute(session, _LATEST_EVENT_BY_TYPE, {"lead": lead.id, "now": now})
        if at is not None
    }
    return _facts(lead, latest)


def _facts(lead: Lead, latest: dict[str, dt.datetime]) -> LeadFacts:
    replies = [latest[t] for t in ("reply", "inbound") if t in latest]
    purchases = [latest[t] for t in ("purchase", "conversion") if t in latest]
    return LeadFacts(
        created_at=lead.created_at,
        last_visit_at=latest.get("visit"),
        last_purchase_at=max(purchases) if purchases else None,
        last_reply_at=max(replies) if replies else None,
        touched="sent" in latest,
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _reasons_json(reasons: tuple[DecisionReason, ...]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in reasons]


def decision_row(record: DecisionRecord, *, policy: str) -> dict[str, Any]:
    """The decision log row of ``record`` (column values)."""
    return dict(
        id=record.decision_id,
        lead_id=record.lead_id,
        created_at=record.created_at,
        as_of=record.as_of,
        action=record.action,
        send_at=record.send_at,
        timezone=record.timezone,
        experiment_id=record.experiment_id,
        variant_id=record.variant_id,
        text=record.text,
        segments=record.segments,
        score=record.score,
        probability=record.probability,
        segment=record.segment,
        reasons=_reasons_json(record.reasons),
        allowed=record.compliance_allowed,
        compliance={
            "allowed": record.compliance_allowed,
            "reasons": _reasons_json(record.compliance_reasons),
            "next_allowed_at": record.next_allowed_at.isoformat()
            if record.next_allowed_at
            else None,
            "rules_version": record.rules_version,
        },
        next_allowed_at=record.next_allowed_at,
        propensity=record.propensity,
        slot_propensity=record.slot_propensity,
        model_versions=record.model_versions,
        rules_version=record.rules_version,
        policy=policy,
        first_in_sequence=False,
        explanation={
            "variant_name": record.variant_name,
            "encoding": record.encoding,
            "send_at_local": record.send_at_local,
            "top_features": [[f.feature, f.contribution] for f in record.top_features],
            "expected_response": record.expected_response,
            "expected_value": record.expected_value,
            "variant_probabilities": {
                str(k): v for k, v in (record.variant_probabilities or {}).items()
            }
            or None,
            "slot": record.slot_log.to_dict() if record.slot_log is not None else None,
        },
    )


_INSERT_DECISION = insert(Decision.metadata.tables[Decision.__tablename__])


def write_decisions(session: Session, records: Sequence[DecisionRecord], *, policy: str) -> None:
    """Append decisions to the log in one statement (append-only: never updated afterwards).

    A Core insert on the table (its column names are the attributes' names): the ORM's bulk
    insert path costs about as much Python again per row, and nothing here needs the ORM."""
    if len(records) == 1:
        core_insert_one(session, _INSERT_DECISION, decision_row(records[0], policy=policy))
    elif records:
        core_execute(
            session,
            _INSERT_DECISION,
            [decision_row(r, policy=policy) for r in records],
        )


def write_decision(session: Session, record: DecisionRecord, *, policy: str) -> None:
    """Append one decision to the log."""
    write_decisions(session, [record], policy=policy)


def _reasons_from(items: list[Any]) -> tuple[DecisionReason, ...]:
    return tuple(DecisionReason(i["code"], i["message"], i.get("source")) for i in items or [])


def read_decision(session: Session, decision_id: str) -> DecisionRecord:
    row = session.get(Decision, decision_id)
    if row is None:
        raise NotFound(f"decision {decision_id!r} does not exist", field="decision_id")
    return record_from_row(session, row)


def record_from_row(session: Session, row: Decision) -> DecisionRecord:
    explanation = row.explanation or {}
    compliance = row.compliance or {}
    confirmation = session.scalars(
        select(DecisionConfirmation).where(DecisionConfirmation.decision_id == row.id)
    ).first()
    variant_name = explanation.get("variant_name")
    if variant_name is None and row.variant_id is not None:
        variant = session.get(Variant, row.variant_id)
        variant_name = variant.name if variant else None
    return DecisionRecord(
        decision_id=row.id,
        lead_id=row.lead_id,
        action=row.action,
        send_at=row.send_at,
        send_at_local=explanation.get("send_at_local"),
        timezone=row.timezone,
        experiment_id=row.experiment_id,
        variant_id=row.variant_id,
        variant_name=variant_name,
        text=row.text,
        segments=row.segments,
        encoding=explanation.get("encoding"),
        score=row.score,
        probability=row.probability,
        segment=row.segment,
        top_features=tuple(TopFeature(f, float(c)) for f, c in explanation.get("top_features", [])),
        reasons=_reasons_from(row.reasons),
        compliance_allowed=row.allowed,
        compliance_reasons=_reasons_from(compliance.get("reasons", [])),
        next_allowed_at=row.next_allowed_at,
        rules_version=row.rules_version,
        propensity=row.propensity,
        slot_propensity=row.slot_propensity,
        expected_response=explanation.get("expected_response"),
        model_versions=dict(row.model_versions or {}),
        created_at=row.created_at,
        as_of=row.as_of,
        expected_value=explanation.get("expected_value"),
        confirmation=None
        if confirmation is None
        else {
            "allowed": confirmation.allowed,
            "confirmed_at": confirmation.confirmed_at.isoformat(),
            "reasons": confirmation.reasons,
            "event_id": confirmation.event_id,
        },
    )


def load_facts_many(
    session: Session, *, leads: list[Lead], now: dt.datetime
) -> dict[int, LeadFacts]:
    """:func:`load_facts` for a pool, in two queries."""
    ids = [lead.id for lead in leads]
    latest: dict[int, dict[str, dt.datetime]] = {i: {} for i in ids}
    for chunk_start in range(0, len(ids), 5000):
        chunk = ids[chunk_start : chunk_start + 5000]
        rows = session.execute(
            select(Event.lead_id, Event.type, func.max(Event.occurred_at))
            .where(Event.lead_id.in_(chunk), Event.occurred_at <= now)
            .group_by(Event.lead_id, Event.type)
        ).all()
        for lead_id, kind, at in rows:
            if at is not None:
                latest[lead_id][kind] = _aware(at)
    return {lead.id: _facts(lead, latest[lead.id]) for lead in leads}
