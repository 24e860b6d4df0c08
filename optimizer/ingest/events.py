"""Events in: one timeline for every channel, idempotent, with opt-outs acted on at once.

An inbound opt-out (keyword or everyday intent) suppresses the number across every channel in
the same transaction and yields the single confirmation text the sender may send; HELP yields the
help text. Replies, clicks and conversions are attached to the decision that earned them, so the
experiment's bandit learns from them exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from optimizer.errors import InvalidInput
from optimizer.ingest.leads import validate_channel
from optimizer.settings import Settings
from optimizer.store import events_repo
from optimizer.store.db import Session
from optimizer.store.leads_repo import latest_suppression
from optimizer.store.locks import lock_arms_of, lock_numbers
from optimizer.store.models import Decision, Lead
from optimizer.timebounds import check_time, clamp_opt_out_time, require_aware
from optimizer.vocabulary import EVENT_TYPES, NOT_OUTCOME_INTENTS, OUTCOME_METRICS

# Events that carry the lead's own words (classified for opt-out and reply intent).
LEAD_TEXT_TYPES = ("inbound", "reply", "call", "webchat")
# meta flag of a ``sent`` event with no confirmed allowed decision: a send made around the gate.
UNMANAGED_KEY = "unmanaged"
# meta of an unmanaged send: the gate's verdict on it as of its time (allowed, reason codes).
GATE_KEY = "gate"


@dataclass(frozen=True)
class EventInput:
    idempotency_key: str
    lead_id: int
    type: str
    channel: str
    occurred_at: dt.datetime
    text: str | None = None
    value: float | None = None
    decision_id: str | None = None
    marketing: bool | None = None
    meta: dict[str, Any] | None = None


@dataclass(frozen=True)
class Action:
    type: str  # send_confirmation | send_help | resubscribe_needs_consent
    lead_id: int
    phone_e164: str
    text: str | None
    reason: str

    def stored(self) -> dict[str, Any]:
        """What the event row keeps of this action, so a replay returns the same answer."""
        return {"type": self.type, "text": self.text, "reason": self.reason}

    @classmethod
    def restored(cls, item: dict[str, Any], *, lead: Lead) -> Action:
        return cls(
            type=str(item["type"]),
            lead_id=lead.id,
            phone_e164=lead.phone_e164,
            text=item.get("text"),
            reason=str(item.get("reason") or ""),
        )


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    actions: tuple[Action, ...] = ()
    event_ids: tuple[int, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """What the follow-up steps need of an event just stored."""

    id: int
    lead_id: int
    type: str
    channel: str
    occurred_at: dt.datetime
    text: str | None
    value: float | None
    decision_id: str | None
    rule: str | None

    @classmethod
    def of(cls, event_id: int, row: dict[str, Any]) -> StoredEvent:
        return cls(
            id=event_id,
            lead_id=row["lead_id"],
            type=row["type"],
            channel=row["channel"],
            occurred_at=row["occurred_at"],
            text=row["text"],
            value=row["value"],
            decision_id=row["decision_id"],
            rule=(row["meta"] or {}).get("rule"),
        )


def _validate(event: EventInput) -> None:
    if not event.idempotency_key or not event.idempotency_key.strip():
        raise InvalidInput(
            "idempotency_key '' is empty (a unique key expected)", field="idempotency_key"
        )
    if event.type not in EVENT_TYPES:
        raise InvalidInput(
            f"type {event.type!r} is unknown (one of {', '.join(EVENT_TYPES)} expected)",
            field="type",
        )
    validate_channel(event.channel)
    require_aware(event.occurred_at, field="occurred_at")


def is_suppressed(session: Session, phone_e164: str) -> bool:
    latest = latest_suppression(session, phone_e164=phone_e164)
    return latest is not None and latest.action == "suppress"


def record_revocation(
    session: Session,
    *,
    lead: Lead,
    at: dt.datetime,
    channel: str,
    text: str | None,
    rule: str,
    settings: Settings,
    now: dt.datetime,
    confirm: bool | None = None,
) -> Action | None:
    """Revoke consent and suppress the number at once; the first revocation gets one confirmation.

    The caller holds the number's lock (:func:`lock_numbers`) and read ``now`` after it. ``at``
    is when the opt-out takes effect: never later than ``now`` (see
    :func:`optimizer.timebounds.clamp_opt_out_time`). ``confirm`` (default: the number is not
    suppressed yet) says whether this opt-out earns the one confirmation text.
    """
    from optimizer.compliance.store_context import opt_out_confirmation, record_opt_out

    validate_channel(channel)
    at = min(at, now)
    if confirm is None:
        confirm = not is_suppressed(session, lead.phone_e164)
    confirmation = opt_out_confirmation(settings) if confirm else None
    record_opt_out(
        session,
        lead=lead,
        phone_e164=lead.phone_e164,
        text=text,
        channel=channel,
        at=at,
        rule=rule,
        confirmation_text=confirmation,
        recorded_at=now,
    )
    _record_bandit_opt_out(session, lead=lead, at=at)
    if confirmation is None:
        return None
    return _confirmation_action(lead, confirmation, rule)


def _confirmation_action(lead: Lead, text: str, rule: str) -> Action:
    return Action(
        type="send_confirmation",
        lead_id=lead.id,
        phone_e164=lead.phone_e164,
        text=text,
        reason=f"opt-out recorded ({rule}); one non-marketing confirmation may be sent, then nothing",
    )


def _help_action(lead: Lead, settings: Settings) -> Action:
    return Action(
        type="send_help",
        lead_id=lead.id,
        phone_e164=lead.phone_e164,
        text=settings.help_text.format(brand=settings.brand_name),
        reason="HELP/INFO must be answered with brand and customer-care contact",
    )


def _start_action(lead: Lead) -> Action:
    return Action(
        type="resubscribe_needs_consent",
        lead_id=lead.id,
        phone_e164=lead.phone_e164,
        text=None,
        reason="START/UNSTOP alone does not restore consent: record a fresh consent first",
    )


def _latest_experiment_decision(
    session: Session, *, lead_id: int, at: dt.datetime, decision_id: str | None
) -> Decision | None:
    if decision_id:
        return events_repo.decision_by_id(session, decision_id)
    return events_repo.latest_confirmed_experiment_decision(session, lead_id=lead_id, at=at)


def _record_bandit_opt_out(session: Session, *, lead: Lead, at: dt.datetime) -> None:
    decision = _latest_experiment_decision(session, lead_id=lead.id, at=at, decision_id=None)
    if decision is None:
        return
    from optimizer.bandits.store import record_opt_out

    record_opt_out(session, decision_id=decision.id, now=at)


def _attribute_outcome(session: Session, *, event: StoredEvent) -> None:
    metrics = OUTCOME_METRICS.get(event.type)
    if not metrics:
        return
    decision = _latest_experiment_decision(
        session, lead_id=event.lead_id, at=event.occurred_at, decision_id=event.decision_id
    )
    if decision is None or decision.experiment_id is None:
        return
    experiment = events_repo.experiment_by_id(session, decision.experiment_id)
    if experiment is None or experiment.metric not in metrics:
        return
    from optimizer.bandits.store import record_outcome

    value = 1.0 if experiment.metric != "revenue" else float(event.value or 0.0)
    record_outcome(
        session,
        decision_id=decision.id,
        metric=experiment.metric,
        value=value,
        event_id=event.id,
        now=event.occurred_at,  # the window is measured to when the outcome happened
    )


def _unmanaged_sends(session: Session, events: Sequence[EventInput]) -> set[str]:
    """Keys of the ``sent`` events that name no decision, or one not confirmed as allowed:
    sends the gate did not clear (stored flagged, and judged by the health report)."""
    sent = [e for e in events if e.type == "sent"]
    named = sorted({e.decision_id for e in sent if e.decision_id})
    cleared = events_repo.allowed_decisions(session, decision_ids=named)
    return {e.idempotency_key for e in sent if not e.decision_id or e.decision_id not in cleared}


def _gate_as_of(
    session: Session, *, lead: Lead, event: EventInput, settings: Settings
) -> dict[str, Any]:
    """What the gate would have said of a send made around it: the lead's context as of the
    send's time (the send itself not yet stored), its text as the message."""
    from optimizer.compliance import evaluate
    from optimizer.compliance.store_context import build_context

    at = event.occurred_at.astimezone(dt.UTC)
    try:
        context = build_context(
            session,
            lead=lead,
            message=event.text or "",
            send_at=at,
            now=at,
            settings=settings,
            marketing=event.marketing if event.marketing is not None else True,
        )
    except Exception as exc:  # judged as refused (the gate fails closed), never a failed post
        return {"allowed": False, "reasons": [f"gate.error.context.{type(exc).__name__}"]}
    verdict = evaluate(context, next_allowed=False)
    return {
        "allowed": verdict.allowed,
        "reasons": list(verdict.codes),
        "rules_version": verdict.rules_version,
    }


def _check_decisions(session: Session, events: Sequence[EventInput]) -> None:
    """An outcome names a decision only of its own lead: else it could move another lead's arm."""
    named = sorted({e.decision_id for e in events if e.decision_id})
    owners = events_repo.decision_owners(session, decision_ids=named)
    for event in events:
        if not event.decision_id:
            continue
        owner = owners.get(event.decision_id)
        if owner is None:
            raise InvalidInput(
                f"decision_id {event.decision_id!r} does not exist (a decision of lead "
                f"{event.lead_id} expected)",
                field="decision_id",
            )
        if owner != event.lead_id:
            raise InvalidInput(
                f"decision_id {event.decision_id!r} belongs to lead {owner}, not to lead "
                f"{event.lead_id} (an outcome is credited only to its own lead's decision)",
                field="decision_id",
            )


def _stored_actions(session: Session, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The actions stored with events already in the store (what their first answer was)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for key, meta in events_repo.metas_by_key(session, keys=keys).items():
        items = (meta or {}).get("actions")
        if items:
            found[key] = list(items)
    return found


def ingest_events(
    session: Session,
    *,
    events: Sequence[EventInput],
    settings: Settings,
    now: dt.datetime | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> IngestResult:
    """Store events (a replayed idempotency key counts once) and act on inbound messages.

    Give ``now`` or ``clock`` (read after the numbers of the batch's opt-outs are locked, so a
    confirm waiting for the same number comes after them). Times are checked against
    :mod:`optimizer.timebounds`: an event outside the accepted range is refused, except an
    opt-out, which is never refused for its time and takes effect at once when dated ahead.
    Each event's actions (the opt-out confirmation, the HELP text) are stored with it, so a
    replay of the same key answers the same actions again.
    """
    from optimizer.compliance.intent import classify_reply
    from optimizer.compliance.store_context import opt_out_confirmation

    if (now is None) == (clock is None):
        raise TypeError("ingest_events needs exactly one of now= or clock=")
    for event in events:
        _validate(event)
    wanted = sorted({e.lead_id for e in events})
    leads = events_repo.leads_by_id(session, lead_ids=wanted)
    missing = [lead_id for lead_id in wanted if lead_id not in leads]
    if missing:
        raise InvalidInput(
            f"lead_id {missing[0]} does not exist (a known lead id expected)", field="lead_id"
        )
    _check_decisions(session, events)
    # The lead's own words on any channel (a text, an RCS or web chat message, an email reply,
    # a call's transcript or notes) are classified: an opt-out there suppresses the number too.
    intents: list[tuple[str | None, str | None]] = []
    replies: list[dict[str, Any]] = []
    for event in events:
        if event.type in LEAD_TEXT_TYPES and event.text:
            reply = classify_reply(event.text)
            intents.append((reply.compliance, reply.rule))
            replies.append(reply.meta())
        else:
            intents.append((None, None))
            replies.append({})
    lock_numbers(
        session,
        [
            leads[e.lead_id].phone_e164
            for e, (intent, _) in zip(events, intents, strict=True)
            if intent == "opt_out"
        ],
    )
    current = clock() if clock is not None else now
    assert current is not None
    keys = [e.idempotency_key for e in events]
    seen = events_repo.stored_keys(session, keys=keys)
    replayed: list[tuple[str, Lead]] = []
    fresh: list[tuple[dict[str, Any], str | None]] = []
    confirmed_now: set[str] = set()
    unmanaged = _unmanaged_sends(session, events)
    for event, (intent, rule), reply_meta in zip(events, intents, replies, strict=True):
        lead = leads[event.lead_id]
        if event.idempotency_key in seen:
            replayed.append((event.idempotency_key, lead))
            continue
        seen.add(event.idempotency_key)
        meta = dict(event.meta or {})
        if intent is not None:
            meta["intent"] = intent
            if rule:
                meta["rule"] = rule
            meta.update(reply_meta)
        if intent == "opt_out":
            occurred_at = clamp_opt_out_time(
                event.occurred_at, field="occurred_at", settings=settings, now=current
            )
            if occurred_at != event.occurred_at.astimezone(dt.UTC):
                meta["stated_occurred_at"] = event.occurred_at.isoformat()
        else:
            occurred_at = check_time(
                event.occurred_at, field="occurred_at", settings=settings, now=current
            )
        if event.idempotency_key in unmanaged:
            meta[UNMANAGED_KEY] = True
            meta[GATE_KEY] = _gate_as_of(session, lead=lead, event=event, settings=settings)
        actions: list[Action] = []
        if intent == "opt_out" and lead.phone_e164 not in confirmed_now:
            if not is_suppressed(session, lead.phone_e164):
                actions.append(
                    _confirmation_action(
                        lead, opt_out_confirmation(settings), f"inbound.{rule or 'opt_out'}"
                    )
                )
            confirmed_now.add(lead.phone_e164)
        elif intent == "help":
            actions.append(_help_action(lead, settings))
        elif intent == "start":
            actions.append(_start_action(lead))
        if actions:
            meta["actions"] = [a.stored() for a in actions]
        marketing = event.marketing if event.marketing is not None else event.type == "sent"
        row = {
            "idempotency_key": event.idempotency_key,
            "lead_id": event.lead_id,
            "type": event.type,
            "channel": event.channel,
            "occurred_at": occurred_at,
            "recorded_at": current,
            "text": event.text,
            "value": event.value,
            "decision_id": event.decision_id,
            "variant_id": None,
            "marketing": marketing,
            "meta": meta or None,
        }
        fresh.append((row, intent))
    ids = events_repo.insert_events(session, [row for row, _ in fresh])
    # A key stored by a concurrent writer in between is a replay too.
    replayed.extend(
        (row["idempotency_key"], leads[row["lead_id"]])
        for event_id, (row, _) in zip(ids, fresh, strict=True)
        if event_id is None
    )
    kept: list[tuple[StoredEvent, str | None, dict[str, Any]]] = [
        (StoredEvent.of(event_id, values), found_intent, values)
        for event_id, (values, found_intent) in zip(ids, fresh, strict=True)
        if event_id is not None
    ]
    with_decisions = events_repo.leads_with_experiment_decisions(
        session, lead_ids={row.lead_id for row, _, _ in kept}
    )
    # The arms these events may credit (outcomes, opt-outs), locked in one order.
    lock_arms_of(
        session,
        lead_ids={row.lead_id for row, _, _ in kept if row.lead_id in with_decisions},
        decision_ids={row.decision_id for row, _, _ in kept if row.decision_id},
    )
    actions_out: list[Action] = []
    for stored, intent, values in kept:
        lead = leads[stored.lead_id]
        planned = [Action.restored(a, lead=lead) for a in (values["meta"] or {}).get("actions", [])]
        if intent == "opt_out":
            record_revocation(
                session,
                lead=lead,
                at=stored.occurred_at,
                channel=stored.channel,
                text=stored.text,
                rule=f"inbound.{stored.rule or 'opt_out'}",
                settings=settings,
                now=current,
                confirm=any(a.type == "send_confirmation" for a in planned),
            )
        elif intent not in NOT_OUTCOME_INTENTS and (
            stored.lead_id in with_decisions or stored.decision_id
        ):
            _attribute_outcome(session, event=stored)
        actions_out.extend(planned)
    if replayed:
        stored_actions = _stored_actions(session, [key for key, _ in replayed])
        for key, lead in replayed:
            actions_out.extend(
                Action.restored(item, lead=lead) for item in stored_actions.get(key, ())
            )
    return IngestResult(
        accepted=len(kept),
        duplicates=len(replayed),
        actions=tuple(actions_out),
        event_ids=tuple(item.id for item, _, _ in kept),
    )
