"""Build gate contexts from the store, and record opt-outs (append-only).

The batch form loads everything for many leads with a handful of queries (chunked ``IN`` lists),
so the batch decision path can build 10,000 contexts without a query per lead.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from optimizer.compliance.inbound import classify_inbound
from optimizer.compliance.model import (
    BannedDay,
    ConsentEntry,
    DncCheck,
    GateContext,
    PolicyConfig,
    SuppressionStatus,
)
from optimizer.compliance.policy import policy_from_settings
from optimizer.phones import InvalidPhone, PhoneInfo, parse_phone
from optimizer.settings import Settings
from optimizer.store import compliance_repo as repo
from optimizer.store.banned_dates import add_banned_date
from optimizer.store.compliance_repo import REPLY_TYPES
from optimizer.store.db import Session
from optimizer.store.events import LeadEvents
from optimizer.store.models import Lead

# Sends older than this cannot affect any cap (the longest is 30 days).
HISTORY = dt.timedelta(days=31)
# The registry whose copy must be in the store (state lists add to it, they do not replace it).
NATIONAL = "national"
__all__ = ["OptOutRecord", "add_banned_date", "build_context", "build_contexts", "record_opt_out"]


@dataclass(frozen=True, slots=True)
class OptOutRecord:
    consent_id: int
    suppression_id: int
    confirmation_text: str | None


def _parse(raw: str) -> tuple[PhoneInfo | None, str | None]:
    try:
        return parse_phone(raw), None
    except InvalidPhone as exc:
        return None, exc.message


def _is_opt_out(text: str | None, meta: dict[str, Any] | None) -> bool:
    if meta and meta.get("intent") == "opt_out":
        return True
    return bool(text) and classify_inbound(text or "").intent == "opt_out"


def build_contexts(
    session: Session,
    *,
    leads: Sequence[Lead],
    message: str | Sequence[str],
    send_at: dt.datetime | Sequence[dt.datetime],
    now: dt.datetime,
    settings: Settings,
    policy: str | None = None,
    first_in_sequence: bool | None = None,
    marketing: bool = True,
) -> dict[int, GateContext]:
    """One context per lead, keyed by lead id (in the order of ``leads``). ``message`` and
    ``send_at`` may be one value for all leads or one per lead (same order as ``leads``). DNC
    registry age is measured against ``now``."""
    count = len(leads)
    messages = [message] * count if isinstance(message, str) else list(message)
    send_times = [send_at] * count if isinstance(send_at, dt.datetime) else list(send_at)
    if len(messages) != count or len(send_times) != count:
        raise ValueError(
            f"{count} leads but {len(messages)} messages and {len(send_times)} send times"
        )
    config: PolicyConfig = policy_from_settings(settings, policy or settings.policy)
    lead_ids = [lead.id for lead in leads]
    phones = sorted({lead.phone_e164 for lead in leads})
    earliest = min([now, *send_times]) - HISTORY if count else now

    consents: dict[str, list[ConsentEntry]] = defaultdict(list)
    for c in repo.consents_of_phones(session, phones=phones, now=now):
        kind: Literal["grant", "revoke"] = "grant" if c.kind == "grant" else "revoke"
        consents[c.phone_e164].append(ConsentEntry(kind, c.occurred_at, c.brand, c.method))
    suppressions: dict[str, SuppressionStatus | None] = {}
    for s in repo.suppressions_of_phones(session, phones=phones, now=now):
        # The latest record per phone wins; a 'reverse' lifts the suppression.
        suppressions[s.phone_e164] = (
            SuppressionStatus(since=s.created_at, reason=s.reason, source=s.source)
            if s.action == "suppress"
            else None
        )
    latest_imports = repo.latest_dnc_imports(session, now=now)
    listed: dict[str, set[int]] = defaultdict(set)
    import_ids = [row.id for row in latest_imports.values()]
    for n in repo.dnc_listings(session, import_ids=import_ids, phones=phones):
        listed[n.phone_e164].add(n.import_id)

    ever_sent = repo.leads_ever_sent(session, lead_ids=lead_ids, now=now)
    sends: dict[int, list[dt.datetime]] = defaultdict(list)
    for e in repo.marketing_sends(session, lead_ids=lead_ids, since=earliest, now=now):
        sends[e.lead_id].append(e.occurred_at)
    last_reply: dict[int, dt.datetime] = {}
    for r in repo.replies_of_leads(session, lead_ids=lead_ids, since=earliest, now=now):
        if not _is_opt_out(r.text, r.meta):
            last_reply[r.lead_id] = r.occurred_at

    banned = _banned_days(session, earliest)

    contexts: dict[int, GateContext] = {}
    for lead, text, when in zip(leads, messages, send_times, strict=True):
        phone, error = _parse(lead.phone_e164)
        states = {lead.state.upper()} if lead.state else set()
        if phone is not None and phone.state:
            states.add(phone.state)
        checks: list[DncCheck] = []
        for registry, imp in sorted(latest_imports.items()):
            if registry != "national" and registry not in states:
                continue
            age = (now.date() - imp.as_of).days
            checks.append(DncCheck(registry, imp.id in listed.get(lead.phone_e164, ()), age))
        contexts[lead.id] = GateContext(
            phone=phone,
            send_at=when,
            message=text,
            policy=config,
            phone_raw=lead.phone_e164,
            phone_error=error,
            lead_time_zone=lead.timezone,
            address_state=lead.state,
            consents=tuple(consents.get(lead.phone_e164, ())),
            suppression=suppressions.get(lead.phone_e164),
            dnc=tuple(checks),
            dnc_registry_missing=NATIONAL not in latest_imports,
            prior_sends=tuple(sorted(sends.get(lead.id, ()))),
            last_reply_at=last_reply.get(lead.id),
            first_in_sequence=(lead.id not in ever_sent)
            if first_in_sequence is None
            else first_in_sequence,
            marketing=marketing,
            extra_banned_dates=banned,
        )
    return contexts


def _banned_days(session: Session, earliest: dt.datetime) -> tuple[BannedDay, ...]:
    since = (earliest - dt.timedelta(days=1)).date()
    return tuple(
        BannedDay(state=b.state, day=b.day, reason=b.reason)
        for b in repo.banned_days_since(session, since=since)
    )


def _occurred_at(row: Any) -> dt.datetime:
    return row.occurred_at  # type: ignore[no-any-return]


def build_context(
    session: Session,
    *,
    lead: Lead,
    message: str,
    send_at: dt.datetime,
    now: dt.datetime,
    settings: Settings,
    policy: str | None = None,
    first_in_sequence: bool | None = None,
    marketing: bool = True,
    suppressions_until: dt.datetime | None = None,
    events: LeadEvents | None = None,
) -> GateContext:
    """The gate context of one lead, loaded from the store as of ``now`` (the same context
    :func:`build_contexts` gives for this lead, with fewer queries). ``suppressions_until``
    (default ``now``): suppressions stored with a time up to this count; the confirm at
    dispatch on the server's clock counts every stored one. ``events``: the lead's events up to
    this ``now`` when the caller has read them already (its sends and replies come from them)."""
    config: PolicyConfig = policy_from_settings(settings, policy or settings.policy)
    earliest = min(now, send_at) - HISTORY
    consents = tuple(
        ConsentEntry("grant" if c.kind == "grant" else "revoke", c.occurred_at, c.brand, c.method)
        for c in repo.consents_of_phone(session, phone=lead.phone_e164, now=now)
    )
    latest = repo.latest_suppression_of_phone(
        session, phone=lead.phone_e164, until=suppressions_until or now
    )
    suppression = (
        SuppressionStatus(since=latest.created_at, reason=latest.reason, source=latest.source)
        if latest is not None and latest.action == "suppress"
        else None
    )
    imports: dict[str, tuple[int, dt.date, bool]] = {}
    for row in repo.dnc_imports_with_phone(session, phone=lead.phone_e164, now=now):
        imports.setdefault(row.registry_name, (row.id, row.as_of, bool(row.listed)))
    ever_sent = False
    sends: list[dt.datetime] = []
    last_reply: dt.datetime | None = None
    rows: Iterable[Any]
    if events is not None and events.covers(lead.id, now):
        # What repo.sends_and_replies_of_lead selects, from the rows already read (a stable sort
        # by time, as its ORDER BY).
        rows = sorted(
            (
                e
                for e in events.rows
                if (e.type == "sent" and e.marketing)
                or (e.type in REPLY_TYPES and e.occurred_at >= earliest)
            ),
            key=_occurred_at,
        )
    else:
        rows = repo.sends_and_replies_of_lead(session, lead_id=lead.id, since=earliest, now=now)
    for e in rows:
        if e.type == "sent":
            ever_sent = True
            if e.occurred_at >= earliest:
                sends.append(e.occurred_at)
        elif not _is_opt_out(e.text, e.meta):
            last_reply = e.occurred_at
    banned = _banned_days(session, earliest)
    phone, error = _parse(lead.phone_e164)
    states = {lead.state.upper()} if lead.state else set()
    if phone is not None and phone.state:
        states.add(phone.state)
    checks = tuple(
        DncCheck(registry, listed, (now.date() - as_of).days)
        for registry, (_, as_of, listed) in sorted(imports.items())
        if registry == "national" or registry in states
    )
    return GateContext(
        phone=phone,
        send_at=send_at,
        message=message,
        policy=config,
        phone_raw=lead.phone_e164,
        phone_error=error,
        lead_time_zone=lead.timezone,
        address_state=lead.state,
        consents=consents,
        suppression=suppression,
        dnc=checks,
        dnc_registry_missing=NATIONAL not in imports,
        prior_sends=tuple(sorted(sends)),
        last_reply_at=last_reply,
        first_in_sequence=(not ever_sent) if first_in_sequence is None else first_in_sequence,
        marketing=marketing,
        extra_banned_dates=banned,
    )


def record_opt_out(
    session: Session,
    *,
    lead: Lead | None,
    phone_e164: str,
    text: str | None,
    channel: str,
    at: dt.datetime,
    rule: str | None,
    confirmation_text: str | None,
    brand: str | None = None,
    recorded_at: dt.datetime | None = None,
) -> OptOutRecord:
    """Append the revocation to ``consents`` and a suppression to ``suppressions`` (both
    append-only). ``brand=None`` revokes every brand of the sender (F8, applied now). The caller
    sends ``confirmation_text`` once (non-marketing; ``None`` when the number was already
    suppressed and a confirmation went out before); every later marketing send is denied."""
    reason = "wrong_number" if rule and "wrong_number" in rule else "opt_out"
    consent_id, suppression_id = repo.append_opt_out(
        session,
        lead_id=lead.id if lead is not None else None,
        phone_e164=phone_e164,
        brand=brand,
        text=text,
        channel=channel,
        at=at,
        recorded_at=recorded_at or at,
        rule=rule,
        reason=reason,
        confirmation_text=confirmation_text,
    )
    return OptOutRecord(consent_id, suppression_id, confirmation_text)


def opt_out_confirmation(settings: Settings) -> str:
    """The one confirmation text allowed after an opt-out (non-marketing)."""
    return settings.opt_out_confirmation_text.replace("{brand}", settings.brand_name)
