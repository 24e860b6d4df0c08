"""Leads and their consent ledger: create or update a lead, record consent and revocations."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from optimizer.errors import InvalidInput, NotFound
from optimizer.phones import STATE_CODES, parse_phone
from optimizer.store import leads_repo
from optimizer.store.db import Session
from optimizer.store.models import Consent, Lead
from optimizer.vocabulary import CHANNELS

CONSENT_METHODS = ("web", "keyword", "paper", "voice")


@dataclass(frozen=True)
class LeadInput:
    external_id: str
    phone: str
    email: str | None = None
    state: str | None = None
    postal_code: str | None = None
    timezone: str | None = None
    source: str | None = None
    vertical: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class ConsentInput:
    granted_at: dt.datetime
    method: str
    brand: str
    disclosure: str
    evidence: dict[str, Any] | None = None
    checkbox_unchecked_by_default: bool | None = None
    program_scope: str | None = None
    disclosed_frequency: str | None = None
    state_of_residence: str | None = None


@dataclass(frozen=True)
class UpsertResult:
    lead: Lead
    created: bool
    changed: tuple[str, ...]


def normalise_state(state: str | None, field_name: str = "state") -> str | None:
    if state is None or not state.strip():
        return None
    code = state.strip().upper()
    if code not in STATE_CODES:
        raise InvalidInput(
            f"{field_name} {state!r} is not a US state (two-letter code such as FL expected)",
            field=field_name,
        )
    return code


def validate_timezone(name: str | None) -> str | None:
    if name is None or not name.strip():
        return None
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"timezone {name!r} is not an IANA time zone (e.g. America/Chicago expected)",
            field="timezone",
        ) from exc
    return name.strip()


def _aware(value: dt.datetime, field_name: str) -> dt.datetime:
    if value.tzinfo is None:
        raise InvalidInput(
            f"{field_name} {value.isoformat()!r} has no UTC offset (ISO 8601 with offset expected)",
            field=field_name,
        )
    return value.astimezone(dt.UTC)


def upsert_lead(session: Session, *, data: LeadInput, now: dt.datetime) -> UpsertResult:
    """Create the lead, or update the one with the same external id (changes are recorded)."""
    if not data.external_id or not data.external_id.strip():
        raise InvalidInput("external_id '' is empty (a non-empty id expected)", field="external_id")
    try:
        phone = parse_phone(data.phone)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="phone") from exc
    fields: dict[str, Any] = {
        "phone_e164": phone.e164,
        "email": data.email,
        "state": normalise_state(data.state),
        "postal_code": data.postal_code,
        "timezone": validate_timezone(data.timezone),
        "source": data.source,
        "vertical": data.vertical,
        "attributes": dict(data.attributes or {}),
    }
    existing = leads_repo.lead_by_external_id(session, external_id=data.external_id)
    if existing is None:
        created_at = _aware(data.created_at, "created_at") if data.created_at else now
        lead = leads_repo.add_lead(
            session, external_id=data.external_id, created_at=created_at, now=now, fields=fields
        )
        return UpsertResult(lead=lead, created=True, changed=())
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if name != "phone_e164" and value in (None, {}):
            continue  # an omitted field keeps what is stored
        if name == "attributes":
            value = {**(existing.attributes or {}), **value}
        old = getattr(existing, name)
        if old != value:
            changes[name] = {"from": old, "to": value}
            setattr(existing, name, value)
    if changes:
        leads_repo.append_lead_change(
            session, lead=existing, changes=changes, now=now, source="api"
        )
    return UpsertResult(lead=existing, created=False, changed=tuple(sorted(changes)))


def get_lead(session: Session, lead_id: int) -> Lead:
    lead = leads_repo.lead_by_id(session, lead_id)
    if lead is None:
        raise NotFound(f"lead {lead_id} does not exist", field="lead_id")
    return lead


def add_consent(session: Session, *, lead: Lead, data: ConsentInput, now: dt.datetime) -> Consent:
    """Append a prior-express-written-consent grant to the ledger."""
    if data.method not in CONSENT_METHODS:
        raise InvalidInput(
            f"method {data.method!r} is unknown (one of {', '.join(CONSENT_METHODS)} expected)",
            field="method",
        )
    if not data.brand.strip():
        raise InvalidInput(
            "brand '' is empty (the brand the consent names expected)", field="brand"
        )
    if not data.disclosure.strip():
        raise InvalidInput(
            "disclosure '' is empty (the exact disclosure text shown expected)", field="disclosure"
        )
    granted_at = _aware(data.granted_at, "granted_at")
    if granted_at > now + dt.timedelta(minutes=5):
        raise InvalidInput(
            f"granted_at {granted_at.isoformat()!r} is in the future (a past time expected)",
            field="granted_at",
        )
    row = Consent(
        kind="grant",
        lead_id=lead.id,
        phone_e164=lead.phone_e164,
        brand=data.brand.strip(),
        occurred_at=granted_at,
        recorded_at=now,
        method=data.method,
        disclosure_text=data.disclosure,
        disclosure_hash=hashlib.sha256(data.disclosure.encode("utf-8")).hexdigest(),
        checkbox_unchecked_by_default=data.checkbox_unchecked_by_default,
        evidence=data.evidence,
        program_scope=data.program_scope,
        disclosed_frequency=data.disclosed_frequency,
        state_of_residence=normalise_state(data.state_of_residence, "state_of_residence"),
    )
    return leads_repo.append_consent(session, row)


def validate_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise InvalidInput(
            f"channel {channel!r} is unknown (one of {', '.join(CHANNELS)} expected)",
            field="channel",
        )
    return channel
