"""Apply providers' records to the store, through the same code as ``POST /v1/events``.

- An inbound message from a number with a lead is that lead's ``inbound`` event
  (:func:`optimizer.service.events.ingest_events`: opt-outs suppress the number at once, HELP is
  answered, replies credit the decision that earned them). From a number with no lead, an
  opt-out still revokes consent and suppresses the number — every lead with it, now or created
  later — and HELP is still answered.
- A status callback is stored once per (message, status), attached to the decision whose
  confirm named the message id; its carrier error acts: a STOP at the carrier suppresses the
  number (``carrier_stop``), an unreachable / landline / unknown number marks it not textable
  (``unreachable``), carrier filtering flags the decision's variant (``content_flag``).

Each function runs inside the caller's unit of work; it locks the number first and reads the
clock after the lock (:func:`optimizer.store.locks.lock_numbers`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from optimizer.compliance import classify_inbound
from optimizer.compliance.store_context import opt_out_confirmation, record_opt_out
from optimizer.errors import Conflict, InvalidInput, NotFound
from optimizer.phones import InvalidPhone, to_e164
from optimizer.providers.base import ErrorAction, InboundMessage, Record, StatusUpdate
from optimizer.service.events import EventInput, ingest_events, is_suppressed
from optimizer.settings import Settings
from optimizer.store import provider_messages as store
from optimizer.store.locks import lock_numbers
from optimizer.store.models import Decision, Lead
from optimizer.vocabulary import CHANNELS

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True, slots=True)
class NumberAction:
    """What the sender should do after an inbound message (the events' Action, for a number
    that may have no lead)."""

    type: str  # send_confirmation | send_help | resubscribe_needs_consent
    lead_id: int | None
    phone_e164: str
    text: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class InboundResult:
    duplicate: bool
    lead_id: int | None
    intent: str | None  # opt_out | help | start | other
    answer: str | None  # the one text to reply with (the opt-out confirmation or HELP)
    actions: tuple[NumberAction, ...]


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


def normalise_number(raw: str, field: str) -> str:
    try:
        return to_e164(raw)
    except InvalidPhone as exc:
        raise InvalidInput(f"{field}: {exc.message}", field=field) from exc


def help_text(settings: Settings) -> str:
    return settings.help_text.format(brand=settings.brand_name)


def receive_inbound(
    session: Session,
    *,
    source: str,
    message_id: str,
    phone_e164: str,
    text: str,
    channel: str,
    occurred_at: dt.datetime | None,
    settings: Settings,
    clock: Clock,
    meta: Mapping[str, Any] | None = None,
) -> InboundResult:
    """One inbound message from ``phone_e164``, idempotent by (``source``, ``message_id``): a
    repeat answers what the first delivery answered and changes nothing."""
    if channel not in CHANNELS:
        raise InvalidInput(
            f"channel {channel!r} is unknown (one of {', '.join(CHANNELS)} expected)",
            field="channel",
        )
    lock_numbers(session, [phone_e164])
    now = clock()
    seen = store.find_message(
        session, provider=source, message_id=message_id, kind="inbound", status="received"
    )
    if seen is not None:
        return _replayed(seen)
    lead = store.lead_of_number(session, phone_e164)
    at = occurred_at or now
    actions: tuple[NumberAction, ...]
    intent: str | None
    if lead is not None:
        result = ingest_events(
            session,
            events=[
                EventInput(
                    idempotency_key=f"{source}:{message_id}",
                    lead_id=lead.id,
                    type="inbound",
                    channel=channel,
                    occurred_at=at,
                    text=text,
                    meta={"provider": source, "provider_message_id": message_id, **(meta or {})},
                )
            ],
            settings=settings,
            now=now,
        )
        actions = tuple(
            NumberAction(a.type, a.lead_id, a.phone_e164, a.text, a.reason) for a in result.actions
        )
        intent = classify_inbound(text).intent if text else None
    else:
        intent, actions = _number_inbound(
            session,
            phone_e164=phone_e164,
            text=text,
            channel=channel,
            at=min(at, now),
            settings=settings,
            now=now,
        )
    answer = next(
        (a.text for a in actions if a.type in ("send_confirmation", "send_help") and a.text), None
    )
    stored = store.add_message(
        session,
        provider=source,
        message_id=message_id,
        kind="inbound",
        status="received",
        phone_e164=phone_e164,
        lead_id=lead.id if lead is not None else None,
        action=intent if intent in ("opt_out", "help", "start") else None,
        answer=answer,
        occurred_at=occurred_at,
        received_at=now,
    )
    if stored is None:  # a concurrent delivery of the same message stored it first
        again = store.find_message(
            session, provider=source, message_id=message_id, kind="inbound", status="received"
        )
        assert again is not None
        return _replayed(again)
    return InboundResult(
        duplicate=False,
        lead_id=lead.id if lead is not None else None,
        intent=intent,
        answer=answer,
        actions=actions,
    )


def _replayed(seen: store.StoredMessage) -> InboundResult:
    actions: tuple[NumberAction, ...] = ()
    if seen.answer and seen.phone_e164:
        kind = "send_confirmation" if seen.action == "opt_out" else "send_help"
        actions = (NumberAction(kind, seen.lead_id, seen.phone_e164, seen.answer, "replayed"),)
    return InboundResult(
        duplicate=True, lead_id=seen.lead_id, intent=seen.action, answer=seen.answer,
        actions=actions,
    )  # fmt: skip


def _number_inbound(
    session: Session,
    *,
    phone_e164: str,
    text: str,
    channel: str,
    at: dt.datetime,
    settings: Settings,
    now: dt.datetime,
) -> tuple[str | None, tuple[NumberAction, ...]]:
    """An inbound message from a number no lead has: an opt-out revokes consent and
    suppresses the number (the gate reads both by number), HELP is answered."""
    if not text:
        return None, ()
    found = classify_inbound(text)
    if found.intent == "opt_out":
        rule = f"inbound.{found.rule or 'opt_out'}"
        confirmation = (
            None if is_suppressed(session, phone_e164) else opt_out_confirmation(settings)
        )
        record_opt_out(
            session,
            lead=None,
            phone_e164=phone_e164,
            text=text,
            channel=channel,
            at=at,
            rule=rule,
            confirmation_text=confirmation,
            recorded_at=now,
        )
        if confirmation is None:
            return found.intent, ()
        reason = f"opt-out recorded ({rule}) for a number with no lead; one non-marketing confirmation may be sent, then nothing"
        return found.intent, (
            NumberAction("send_confirmation", None, phone_e164, confirmation, reason),
        )
    if found.intent == "help":
        return found.intent, (
            NumberAction(
                "send_help",
                None,
                phone_e164,
                help_text(settings),
                "HELP/INFO must be answered with brand and customer-care contact",
            ),
        )
    return found.intent, ()


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
                    phone_e164=normalise_number(record.from_number, "From"),
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
    decision = session.get(Decision, decision_id)
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
    other = store.find_link(session, provider=provider or store.ANY_PROVIDER, message_id=message_id)
    if other is not None and other.decision_id != decision_id:
        raise Conflict(
            f"provider message {message_id!r} is linked to decision {other.decision_id!r} "
            "already (one decision per message expected)",
            field="provider_message_id",
        )
    lead = session.get(Lead, decision.lead_id)
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
