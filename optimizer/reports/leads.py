"""One lead: its timeline across channels, its current score with reasons, its decisions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from optimizer.errors import NotFound
from optimizer.reports.common import Jsonable
from optimizer.store import leads_repo
from optimizer.store.db import Session
from optimizer.store.models import Decision
from optimizer.store.reports_repo import variant_labels

# Keys of a decision's ``explanation`` JSON that may hold the score's reasons.
_SCORE_KEYS = ("score_reasons", "top_features", "contributions", "features")


@dataclass(frozen=True)
class Reason(Jsonable):
    code: str
    message: str


@dataclass(frozen=True)
class TimelineItem(Jsonable):
    occurred_at: dt.datetime
    channel: str
    type: str
    text: str | None
    value: float | None
    intent: str | None
    decision_id: str | None
    marketing: bool


@dataclass(frozen=True)
class DecisionItem(Jsonable):
    id: str
    created_at: dt.datetime
    as_of: dt.datetime
    action: str
    send_at: dt.datetime | None
    send_at_local: str | None
    timezone: str | None
    variant: str | None
    text: str | None
    score: float | None
    probability: float | None
    segment: str | None
    allowed: bool
    reasons: tuple[Reason, ...]
    confirmed: bool | None  # None = not confirmed (yet)


@dataclass(frozen=True)
class LeadReport(Jsonable):
    id: int
    external_id: str
    phone_masked: str
    state: str | None
    timezone: str | None
    vertical: str | None
    source: str | None
    created_at: dt.datetime
    attributes: tuple[tuple[str, str], ...]
    suppressed: bool
    suppression_reason: str | None
    consent: str  # granted | revoked | none
    score: float | None
    probability: float | None
    segment: str | None
    score_reasons: tuple[Reason, ...]
    timeline: tuple[TimelineItem, ...]
    decisions: tuple[DecisionItem, ...]


def mask_phone(e164: str) -> str:
    """Only the last four digits are shown on pages.

    >>> mask_phone("+13055550123")
    '+1••••••0123'
    """
    if len(e164) <= 6:
        return "•" * len(e164)
    return e164[:2] + "•" * (len(e164) - 6) + e164[-4:]


def _reasons(raw: Any) -> tuple[Reason, ...]:
    items = raw.get("reasons", ()) if isinstance(raw, Mapping) else raw
    result = []
    for item in items or ():
        if isinstance(item, Mapping):
            result.append(
                Reason(code=str(item.get("code", "")), message=str(item.get("message", "")))
            )
        elif isinstance(item, str):
            result.append(Reason(code=item, message=""))
    return tuple(result)


def _score_reasons(decision: Decision) -> tuple[Reason, ...]:
    explanation = decision.explanation or {}
    for key in _SCORE_KEYS:
        value = explanation.get(key)
        if isinstance(value, Mapping):
            return tuple(Reason(code=str(k), message=_fmt(v)) for k, v in value.items())
        if isinstance(value, list):
            out = []
            for item in value:
                if isinstance(item, Mapping):
                    label = item.get("feature", item.get("name", item.get("code", "")))
                    detail = item.get("message", item.get("contribution", item.get("value", "")))
                    out.append(Reason(code=str(label), message=_fmt(detail)))
                elif isinstance(item, list | tuple) and len(item) == 2:
                    out.append(Reason(code=str(item[0]), message=_fmt(item[1])))
                else:
                    out.append(Reason(code=str(item), message=""))
            return tuple(out)
    return tuple(r for r in _reasons(decision.reasons) if r.code.startswith(("score", "segment")))


def _decision_reasons(decision: Decision) -> tuple[Reason, ...]:
    """The decision's reasons, then the gate's reasons not already among them."""
    own = _reasons(decision.reasons)
    seen = {r.code for r in own}
    return own + tuple(r for r in _reasons(decision.compliance) if r.code not in seen)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:+.3f}"
    return str(value)


def _local(moment: dt.datetime | None, zone: str | None) -> str | None:
    if moment is None or not zone:
        return None
    try:
        return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")
    except (ZoneInfoNotFoundError, ValueError):
        return None


def lead_report(session: Session, *, lead_id: int, limit: int = 500) -> LeadReport:
    """The lead's profile, one timeline of every channel (newest first) and its decisions."""
    lead = leads_repo.lead_by_id(session, lead_id)
    if lead is None:
        raise NotFound(f"lead {lead_id} does not exist (a known lead id expected)")
    events = leads_repo.events_of_lead(session, lead_id=lead_id, newest=limit)
    decisions = leads_repo.decisions_of_lead(session, lead_id=lead_id, newest=limit)
    confirmations = leads_repo.confirmations_of(session, decision_ids=[d.id for d in decisions])
    latest_suppression = leads_repo.latest_suppression(session, phone_e164=lead.phone_e164)
    latest_consent = leads_repo.latest_consent(session, phone_e164=lead.phone_e164)
    labels = variant_labels(session)
    scored = next((d for d in decisions if d.score is not None), None)
    suppressed = latest_suppression is not None and latest_suppression.action == "suppress"
    consent = "none"
    if latest_consent is not None:
        consent = "granted" if latest_consent.kind == "grant" else "revoked"
    return LeadReport(
        id=lead.id,
        external_id=lead.external_id,
        phone_masked=mask_phone(lead.phone_e164),
        state=lead.state,
        timezone=lead.timezone,
        vertical=lead.vertical,
        source=lead.source,
        created_at=lead.created_at,
        attributes=tuple(sorted((str(k), str(v)) for k, v in (lead.attributes or {}).items())),
        suppressed=suppressed,
        suppression_reason=latest_suppression.reason if suppressed and latest_suppression else None,
        consent=consent,
        score=scored.score if scored else None,
        probability=scored.probability if scored else None,
        segment=scored.segment if scored else None,
        score_reasons=_score_reasons(scored) if scored else (),
        timeline=tuple(
            TimelineItem(
                occurred_at=e.occurred_at,
                channel=e.channel,
                type=e.type,
                text=e.text,
                value=e.value,
                intent=(e.meta or {}).get("intent") if isinstance(e.meta, dict) else None,
                decision_id=e.decision_id,
                marketing=bool(e.marketing),
            )
            for e in events
        ),
        decisions=tuple(
            DecisionItem(
                id=d.id,
                created_at=d.created_at,
                as_of=d.as_of,
                action=d.action,
                send_at=d.send_at,
                send_at_local=_local(d.send_at, d.timezone),
                timezone=d.timezone,
                variant=labels.get(d.variant_id) if d.variant_id is not None else None,
                text=d.text,
                score=d.score,
                probability=d.probability,
                segment=d.segment,
                allowed=bool(d.allowed),
                reasons=_decision_reasons(d),
                confirmed=confirmations.get(d.id),
            )
            for d in decisions
        ),
    )
