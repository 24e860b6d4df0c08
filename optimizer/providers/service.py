"""Apply providers' records to the store, through the same code as ``POST /v1/events``.

- An inbound message goes through :func:`optimizer.ingest.numbers.receive_inbound` (the lead's
  ``inbound`` event, or, from a number with no lead, a number-level opt-out or HELP answer).
- A status callback is stored once per (message, status), attached to the decision whose
  confirm named the message id; its carrier error acts: a STOP at the carrier suppresses the
  number (``carrier_stop``), an unreachable / landline / unknown number marks it not textable
  (``unreachable``), carrier filtering flags the decision's variant (``content_flag``).

Each function runs inside the caller's unit of work; it locks the number first and reads the
clock after the lock (:func:`optimizer.store.locks.lock_numbers`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from optimizer.errors import Conflict, InvalidInput, NotFound
from optimizer.ingest.events import is_suppressed
from optimizer.ingest.numbers import Clock, InboundResult, normalise_number, receive_inbound
from optimizer.phones import InvalidPhone, to_e164
from optimizer.providers.base import ErrorAction, InboundMessage, Record, StatusUpdate
from optimizer.settings import Settings
from optimizer.store import provider_messages as store
from optimizer.store.db import Session
from optimizer.store.events_repo import decision_by_id
from optimizer.store.leads_repo import lead_by_id
from optimizer.store.locks import lock_numbers


@dataclass(frozen=True, slots=True)
class StatusResult:
    duplicate: bool
    status: str
    decision_id: str | None
    lead_id: int | None
    action: str | None  # carrier_stop | unreachable | content_flag


@dataclass(frozen=True, slots=True)
class Applied:
    """A webhook's records applied: how many were new, how many repeats, the reply due."""

    accepted: int
    duplicates: int
    answer: str | None
    inbound: tuple[InboundResult, ...]
    statuses: tuple[StatusResult, ...]


def receive_status(
    session: Session,
    update: StatusUpdate,
    *,
    error_actions: Mapping[str, ErrorAction],
    clock: Clock,
) -> StatusResult:
    """One delivery status, idempotent by (provider, message id, status)."""
    link = store.find_link(session, provider=update.provider, message_id=update.message_id)
    phone: str | None = None
    if update.to_number:
        try:
            phone = to_e164(update.to_number)
        except InvalidPhone:
            phone = None
    if phone is None and link is not None:
        phone = link.phone_e164
    if phone is not None:
        lock_numbers(session, [phone])
    now = clock()
    seen = store.find_message(
        session,
        provider=update.provider,
        message_id=update.message_id,
        kind="status",
        status=update.status,
    )
    if seen is not None:
        return StatusResult(True, seen.status, seen.decision_id, seen.lead_id, seen.action)
    lead_id = link.lead_id if link is not None else None
    if lead_id is None and phone is not None:
        lead = store.lead_of_number(session, phone)
        lead_id = lead.id if lead is not None else None
    decision_id = link.decision_id if link is not None else None
    action = error_actions.get(update.error_code or "")
    marks_number = action in ("carrier_stop", "unreachable") and phone is not None
    if marks_number and phone is not None and not is_suppressed(session, phone):
        store.add_suppression(
            session,
            phone_e164=phone,
            lead_id=lead_id,
            reason=str(action),
            source=f"provider_{update.provider}",
            detail=f"{update.provider} error {update.error_code}",
            created_at=now,
        )
    if action == "content_flag" and decision_id is None:
        action = None  # nothing to flag: the message was not linked to a decision
    stored = store.add_message(
        session,
        provider=update.provider,
        message_id=update.message_id,
        kind="status",
        status=update.status,
        raw_status=update.raw_status,
        error_code=update.error_code,
        phone_e164=phone,
        lead_id=lead_id,
        decision_id=decision_id,
        action=action,
        occurred_at=update.occurred_at,
        received_at=now,
    )
    if stored is None:
        return StatusResult(True, update.status, decision_id, lead_id, action)
    return StatusResult(False, update.status, decision_id, lead_id, action)


def apply_records(
    session: Session,
    records: Sequence[Record],
    *,
    error_actions: Mapping[str, ErrorAction],
    settings: Settings,
    clock: Clock,
) -> Applied:
    """Apply a verified webhook's records in order."""
    inbound: list[InboundResult] = []
    statuses: list[StatusResult] = []
    for record in records:
        if isinstance(record, InboundMessage):
            inbound.append(
                receive_inbound(
                    session,
                    source=record.provider,
                    message_id=record.message_id,
                    phone_e164=normalise_number(record.from_number, record.from_field),
                    text=record.text,
                    channel=record.channel,
                    occurred_at=record.occurred_at,
                    settings=settings,
                    clock=clock,
                )
            )
        else:
            statuses.append(
                receive_status(session, record, error_actions=error_actions, clock=clock)
            )
    results: list[InboundResult | StatusResult] = [*inbound, *statuses]
    duplicates = sum(1 for r in results if r.duplicate)
    return Applied(
        accepted=len(results) - duplicates,
        duplicates=duplicates,
        answer=next((r.answer for r in inbound if r.answer), None),
        inbound=tuple(inbound),
        statuses=tuple(statuses),
    )


def link_sent_message(
    session: Session,
    *,
    decision_id: str,
    message_id: str,
    provider: str | None,
    now: dt.datetime,
) -> str | None:
    """Record that the confirmed decision was sent as the provider's message ``message_id``,
    so its status callbacks attach to it. Only a decision the gate allowed at confirm is
    linked (None otherwise: nothing should have been sent); idempotent for the same id."""
    message_id = message_id.strip()
    if not message_id:
        raise InvalidInput(
            "provider_message_id '' is empty (the provider's message id expected)",
            field="provider_message_id",
        )
    decision = decision_by_id(session, decision_id)
    if decision is None:
        raise NotFound(f"decision {decision_id!r} does not exist", field="decision_id")
    if not store.confirmed_allowed(session, decision_id):
        return None
    existing = store.link_of_decision(session, decision_id)
    if existing is not None:
        if existing.provider_message_id != message_id:
            raise Conflict(
                f"decision {decision_id!r} is linked to provider message "
                f"{existing.provider_message_id!r} already (one message per decision expected)",
                field="provider_message_id",
            )
        return existing.provider_message_id
    other = store.find_link(session, provider=provider, message_id=message_id)
    if other is not None and other.decision_id != decision_id:
        raise Conflict(
            f"provider message {message_id!r} is linked to decision {other.decision_id!r} "
            "already (one decision per message expected)",
            field="provider_message_id",
        )
    lead = lead_by_id(session, decision.lead_id)
    stored = store.add_message(
        session,
        provider=provider or store.ANY_PROVIDER,
        message_id=message_id,
        kind="outbound",
        status="linked",
        phone_e164=lead.phone_e164 if lead is not None else None,
        lead_id=decision.lead_id,
        decision_id=decision_id,
        received_at=now,
    )
    if stored is None:
        raise Conflict(
            f"provider message {message_id!r} is linked to another decision already",
            field="provider_message_id",
        )
    return message_id
