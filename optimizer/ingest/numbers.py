"""Messages from numbers, not only leads: an inbound message from any number, idempotent by its
source's message id.

From a number with a lead it is that lead's ``inbound`` event
(:func:`optimizer.ingest.events.ingest_events`: an opt-out suppresses the number at once, HELP
is answered, a reply credits the decision that earned it). From a number no lead has, an opt-out
still revokes consent and suppresses the number — the gate reads both by number, so every lead
with it, now or created later, is blocked — and HELP is still answered; other text is not kept
(there is no lead to keep it for).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optimizer.compliance import classify_inbound
from optimizer.compliance.store_context import opt_out_confirmation, record_opt_out
from optimizer.errors import InvalidInput
from optimizer.ingest.events import EventInput, ingest_events, is_suppressed
from optimizer.phones import InvalidPhone, to_e164
from optimizer.settings import Settings
from optimizer.store import provider_messages as store
from optimizer.store.db import Session
from optimizer.store.locks import lock_numbers
from optimizer.timebounds import clamp_opt_out_time, require_aware
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
        # What the events' own classification found (stored with the event).
        intent = store.event_intent(session, result.event_ids[0]) if result.event_ids else None
    else:
        intent, actions = _number_inbound(
            session,
            phone_e164=phone_e164,
            text=text,
            channel=channel,
            at=clamp_opt_out_time(at, field="occurred_at", settings=settings, now=now),
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


@dataclass(frozen=True, slots=True)
class EventByNumber:
    """An event that names the phone number instead of the lead (``POST /v1/events`` with
    ``phone``)."""

    idempotency_key: str
    phone: str
    type: str
    channel: str
    occurred_at: dt.datetime
    text: str | None = None
    value: float | None = None
    decision_id: str | None = None
    marketing: bool | None = None


@dataclass(frozen=True, slots=True)
class NumbersIngest:
    accepted: int
    duplicates: int
    actions: tuple[Any, ...]  # events' Actions and NumberActions (the same fields)


def ingest_with_numbers(
    session: Session,
    *,
    events: Sequence[EventInput | EventByNumber],
    settings: Settings,
    clock: Clock,
) -> NumbersIngest:
    """Events by lead id or by number. A number with a lead is that lead (the one last texted
    at it, else the newest); an inbound or reply from a number no lead has is received at the
    number (:func:`receive_inbound`); any other event for such a number is refused (422)."""
    numbers = {
        id(e): normalise_number(e.phone, "phone") for e in events if isinstance(e, EventByNumber)
    }
    lock_numbers(session, numbers.values())
    plain: list[EventInput] = []
    loose: list[tuple[EventByNumber, str]] = []
    for event in events:
        if isinstance(event, EventInput):
            plain.append(event)
            continue
        phone = numbers[id(event)]
        lead = store.lead_of_number(session, phone)
        if lead is not None:
            plain.append(
                EventInput(
                    idempotency_key=event.idempotency_key,
                    lead_id=lead.id,
                    type=event.type,
                    channel=event.channel,
                    occurred_at=event.occurred_at,
                    text=event.text,
                    value=event.value,
                    decision_id=event.decision_id,
                    marketing=event.marketing,
                )
            )
        elif event.type in ("inbound", "reply"):
            require_aware(event.occurred_at, field="occurred_at")
            loose.append((event, phone))
        else:
            raise InvalidInput(
                f"phone {event.phone!r} is the number of no lead (a lead's number expected; only "
                "an inbound or reply message, such as an opt-out or HELP, is taken from any "
                "number)",
                field="phone",
            )
    accepted = duplicates = 0
    actions: list[Any] = []
    if plain:
        result = ingest_events(session, events=plain, settings=settings, clock=clock)
        accepted, duplicates = result.accepted, result.duplicates
        actions.extend(result.actions)
    for event, phone in loose:
        received = receive_inbound(
            session,
            source="api",
            message_id=event.idempotency_key,
            phone_e164=phone,
            text=event.text or "",
            channel=event.channel,
            occurred_at=event.occurred_at,
            settings=settings,
            clock=clock,
        )
        duplicates += received.duplicate
        accepted += not received.duplicate
        actions.extend(received.actions)
    return NumbersIngest(accepted=accepted, duplicates=duplicates, actions=tuple(actions))
