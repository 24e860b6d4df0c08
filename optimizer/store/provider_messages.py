"""SMS providers' webhooks in the store: the ``provider_messages`` rows, the leads of a number,
number-level suppressions, and the delivery figures the reports read.

Every provider (and the API's number-level events) writes through these functions; the rows
are append-only (migration 0003), one per fact, unique by (provider, message id, kind, status).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from optimizer.store.models import (
    Decision,
    DecisionConfirmation,
    Event,
    Lead,
    ProviderMessage,
    Suppression,
    Variant,
)

# A link stored at confirm without naming its provider matches any provider's callbacks.
ANY_PROVIDER = "any"


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    provider: str
    provider_message_id: str
    kind: str
    status: str
    error_code: str | None
    phone_e164: str | None
    lead_id: int | None
    decision_id: str | None
    action: str | None
    answer: str | None

    @classmethod
    def of(cls, row: ProviderMessage) -> StoredMessage:
        return cls(
            id=row.id,
            provider=row.provider,
            provider_message_id=row.provider_message_id,
            kind=row.kind,
            status=row.status,
            error_code=row.error_code,
            phone_e164=row.phone_e164,
            lead_id=row.lead_id,
            decision_id=row.decision_id,
            action=row.action,
            answer=row.answer,
        )


def find_message(
    session: Session, *, provider: str, message_id: str, kind: str, status: str
) -> StoredMessage | None:
    row = session.scalars(
        select(ProviderMessage).where(
            ProviderMessage.provider == provider,
            ProviderMessage.provider_message_id == message_id,
            ProviderMessage.kind == kind,
            ProviderMessage.status == status,
        )
    ).first()
    return StoredMessage.of(row) if row is not None else None


def add_message(
    session: Session,
    *,
    provider: str,
    message_id: str,
    kind: str,
    status: str,
    received_at: dt.datetime,
    raw_status: str | None = None,
    error_code: str | None = None,
    phone_e164: str | None = None,
    lead_id: int | None = None,
    decision_id: str | None = None,
    action: str | None = None,
    answer: str | None = None,
    occurred_at: dt.datetime | None = None,
) -> StoredMessage | None:
    """Append one row; None when a row with the same key is there already (a concurrent
    delivery of the same webhook stored it first)."""
    row = ProviderMessage(
        provider=provider,
        provider_message_id=message_id,
        kind=kind,
        status=status,
        raw_status=raw_status,
        error_code=error_code,
        phone_e164=phone_e164,
        lead_id=lead_id,
        decision_id=decision_id,
        action=action,
        answer=answer,
        occurred_at=occurred_at,
        received_at=received_at,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return StoredMessage.of(row)


def find_link(session: Session, *, provider: str | None, message_id: str) -> StoredMessage | None:
    """The decision a sent message was linked to at confirm: a link naming this provider or
    none (``provider=None``: a link of any provider)."""
    query = select(ProviderMessage).where(
        ProviderMessage.provider_message_id == message_id, ProviderMessage.kind == "outbound"
    )
    if provider is not None:
        query = query.where(ProviderMessage.provider.in_((provider, ANY_PROVIDER)))
    row = session.scalars(query.order_by(ProviderMessage.id).limit(1)).first()
    return StoredMessage.of(row) if row is not None else None


def link_of_decision(session: Session, decision_id: str) -> StoredMessage | None:
    row = session.scalars(
        select(ProviderMessage)
        .where(ProviderMessage.decision_id == decision_id, ProviderMessage.kind == "outbound")
        .order_by(ProviderMessage.id)
        .limit(1)
    ).first()
    return StoredMessage.of(row) if row is not None else None


def confirmed_allowed(session: Session, decision_id: str) -> bool:
    """The decision was confirmed at dispatch and the gate allowed it."""
    allowed = session.scalar(
        select(DecisionConfirmation.allowed).where(DecisionConfirmation.decision_id == decision_id)
    )
    return bool(allowed)


def event_intent(session: Session, event_id: int) -> str | None:
    """The intent an inbound event was classified with when it was stored (its ``meta``)."""
    meta = session.scalar(select(Event.meta).where(Event.id == event_id))
    intent = (meta or {}).get("intent")
    return str(intent) if intent else None


def leads_of_number(session: Session, phone_e164: str) -> list[Lead]:
    """Every lead with this E.164 number, oldest first."""
    return list(
        session.scalars(select(Lead).where(Lead.phone_e164 == phone_e164).order_by(Lead.id))
    )


def lead_of_number(session: Session, phone_e164: str) -> Lead | None:
    """The lead a message from this number is about: the one last texted at it, else the
    newest lead with it; None when no lead has it."""
    texted = session.scalars(
        select(Lead)
        .join(Event, Event.lead_id == Lead.id)
        .where(Lead.phone_e164 == phone_e164, Event.type == "sent")
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(1)
    ).first()
    if texted is not None:
        return texted
    return session.scalars(
        select(Lead).where(Lead.phone_e164 == phone_e164).order_by(Lead.id.desc()).limit(1)
    ).first()


def add_suppression(
    session: Session,
    *,
    phone_e164: str,
    lead_id: int | None,
    reason: str,
    source: str,
    detail: str | None,
    created_at: dt.datetime,
) -> int:
    """Append a suppression of the number (every lead with it, now or later)."""
    row = Suppression(
        phone_e164=phone_e164,
        lead_id=lead_id,
        action="suppress",
        reason=reason,
        source=source,
        detail=detail,
        created_at=created_at,
    )
    session.add(row)
    session.flush()
    return row.id


@dataclass(frozen=True, slots=True)
class VariantDelivery:
    variant_id: int
    sends_with_receipt: int  # linked sends with any final receipt
    delivered: int
    failed: int  # undelivered or failed
    content_flags: int  # carrier filtering (e.g. Twilio 30007)
    error_codes: dict[str, int]


FINAL_FAILED = ("undelivered", "failed")


def delivery_by_variant(
    session: Session, *, variant_ids: Iterable[int] | None = None, start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> dict[int, VariantDelivery]:  # fmt: skip
    """Per variant, over the decisions linked to a provider message: how many got a final
    receipt, were delivered, failed, were filtered by a carrier, and each error code's count.
    ``start``/``end`` bound the receipt's ``received_at``."""
    query = (
        select(
            Decision.variant_id,
            ProviderMessage.decision_id,
            ProviderMessage.status,
            ProviderMessage.error_code,
            ProviderMessage.action,
        )
        .join(Decision, Decision.id == ProviderMessage.decision_id)
        .where(
            ProviderMessage.kind == "status",
            Decision.variant_id.is_not(None),
            or_(
                ProviderMessage.status.in_(("delivered", *FINAL_FAILED)),
                ProviderMessage.action == "content_flag",
            ),
        )
    )
    if variant_ids is not None:
        query = query.where(Decision.variant_id.in_(sorted(set(variant_ids))))
    if start is not None:
        query = query.where(ProviderMessage.received_at >= start)
    if end is not None:
        query = query.where(ProviderMessage.received_at < end)
    finals: dict[int, dict[str, str]] = defaultdict(dict)  # variant -> decision -> final
    flags: dict[int, set[str]] = defaultdict(set)
    codes: dict[int, Counter[str]] = defaultdict(Counter)
    for row in session.execute(query):
        variant_id, decision_id = int(row.variant_id), str(row.decision_id)
        status, code, action = row.status, row.error_code, row.action
        final = status == "delivered" or status in FINAL_FAILED
        # A delivered receipt wins over a failure of the same message (receipts can come in
        # any order).
        if final and finals[variant_id].get(decision_id) != "delivered":
            finals[variant_id][decision_id] = status
        if action == "content_flag":
            flags[variant_id].add(decision_id)
        if code:
            codes[variant_id][code] += 1
    result: dict[int, VariantDelivery] = {}
    for variant_id in set(finals) | set(flags) | set(codes):
        outcome = finals.get(variant_id, {})
        delivered = sum(1 for s in outcome.values() if s == "delivered")
        result[variant_id] = VariantDelivery(
            variant_id=variant_id,
            sends_with_receipt=len(outcome),
            delivered=delivered,
            failed=len(outcome) - delivered,
            content_flags=len(flags.get(variant_id, ())),
            error_codes=dict(sorted(codes.get(variant_id, Counter()).items())),
        )
    return result


def receipts_in(
    session: Session, *, start: dt.datetime, end: dt.datetime
) -> tuple[Counter[str], Counter[str]]:
    """Delivery receipts received in ``[start, end)``: the count per final status (one per
    message, ``delivered`` winning) and the count per (provider, error code)."""
    in_period = and_(
        ProviderMessage.kind == "status",
        ProviderMessage.received_at >= start,
        ProviderMessage.received_at < end,
    )
    finals: dict[tuple[str, str], str] = {}
    errors: Counter[str] = Counter()
    for provider, message_id, status, code in session.execute(
        select(
            ProviderMessage.provider,
            ProviderMessage.provider_message_id,
            ProviderMessage.status,
            ProviderMessage.error_code,
        ).where(in_period)
    ):
        if status == "delivered" or status in FINAL_FAILED:
            key = (provider, message_id)
            if finals.get(key) != "delivered":
                finals[key] = status
        if code:
            errors[f"{provider}:{code}"] += 1
    return Counter(finals.values()), errors


def variant_labels(session: Session, variant_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """Variant id -> (experiment id, name)."""
    ids = sorted(set(variant_ids))
    if not ids:
        return {}
    return {
        int(row.id): (int(row.experiment_id), str(row.name))
        for row in session.execute(
            select(Variant.id, Variant.experiment_id, Variant.name).where(Variant.id.in_(ids))
        )
    }
