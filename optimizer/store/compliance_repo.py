"""The gate's facts in the store: the consent ledger, suppressions, DNC registry copies, banned
days and a lead's marketing sends and replies, read as of a time; and the append-only writes of
an opt-out and of a registry copy.

Reads return rows (attribute access by column name); the gate's own types are built from them
in :mod:`optimizer.compliance.store_context`. The batch readers take many numbers or leads and
query them in chunked ``IN`` lists; the single-lead statements run on every decision and are
built once (SQLAlchemy reuses their compiled form).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, insert, or_, select

from optimizer.store.db import Session, core_execute
from optimizer.store.models import (
    BannedDate,
    Consent,
    DncImport,
    DncNumber,
    Event,
    Suppression,
)

CHUNK = 500
# Event types that are the lead's own words (a reply to a send, or an inbound message).
REPLY_TYPES = ("reply", "inbound")
DNC_INSERT_ROWS = 5000
T = TypeVar("T")


def chunks(values: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


# --- many numbers / leads ---------------------------------------------------------------


def latest_dnc_imports(session: Session, *, now: dt.datetime) -> dict[str, DncImport]:
    """The newest copy (by its ``as_of``, then id) of each registry imported by ``now``."""
    latest: dict[str, DncImport] = {}
    rows = session.scalars(
        select(DncImport)
        .where(DncImport.imported_at <= now)
        .order_by(DncImport.as_of.desc(), DncImport.id.desc())
    )
    for row in rows:
        latest.setdefault(row.registry_name, row)
    return latest


def consents_of_phones(
    session: Session, *, phones: Sequence[str], now: dt.datetime
) -> Iterator[Any]:
    """Rows (phone_e164, kind, brand, occurred_at, method) of the ledger up to ``now``, in
    ledger order within each chunk of numbers."""
    for chunk in chunks(phones):
        yield from session.execute(
            select(
                Consent.phone_e164, Consent.kind, Consent.brand, Consent.occurred_at, Consent.method
            )
            .where(Consent.phone_e164.in_(chunk), Consent.occurred_at <= now)
            .order_by(Consent.occurred_at, Consent.id)
        )


def suppressions_of_phones(
    session: Session, *, phones: Sequence[str], now: dt.datetime | None
) -> Iterator[Any]:
    """Rows (phone_e164, action, reason, source, created_at) stored up to ``now`` (``None``:
    every one), oldest first within each chunk of numbers (so the last row of a number is its
    current state)."""
    for chunk in chunks(phones):
        bounds: list[ColumnElement[bool]] = [Suppression.phone_e164.in_(chunk)]
        if now is not None:
            bounds.append(Suppression.created_at <= now)
        yield from session.execute(
            select(
                Suppression.phone_e164,
                Suppression.action,
                Suppression.reason,
                Suppression.source,
                Suppression.created_at,
            )
            .where(*bounds)
            .order_by(Suppression.created_at, Suppression.id)
        )


def dnc_listings(
    session: Session, *, import_ids: Sequence[int], phones: Sequence[str]
) -> Iterator[Any]:
    """Rows (phone_e164, import_id): which of ``phones`` each of the registry copies lists."""
    if not import_ids:
        return
    for chunk in chunks(phones):
        yield from session.execute(
            select(DncNumber.phone_e164, DncNumber.import_id).where(
                DncNumber.import_id.in_(import_ids), DncNumber.phone_e164.in_(chunk)
            )
        )


def _marketing_sent(lead_ids: Sequence[int]) -> Any:
    return and_(Event.lead_id.in_(lead_ids), Event.type == "sent", Event.marketing.is_(True))


def leads_ever_sent(session: Session, *, lead_ids: Sequence[int], now: dt.datetime) -> set[int]:
    """The leads among ``lead_ids`` with a marketing send up to ``now``."""
    sent: set[int] = set()
    for chunk in chunks(lead_ids):
        for lead_id, _ in session.execute(
            select(Event.lead_id, func.count())
            .where(_marketing_sent(chunk), Event.occurred_at <= now)
            .group_by(Event.lead_id)
        ):
            sent.add(lead_id)
    return sent


def marketing_sends(
    session: Session, *, lead_ids: Sequence[int], since: dt.datetime, now: dt.datetime
) -> Iterator[Any]:
    """Rows (lead_id, occurred_at) of the leads' marketing sends in [since, now]."""
    for chunk in chunks(lead_ids):
        yield from session.execute(
            select(Event.lead_id, Event.occurred_at).where(
                _marketing_sent(chunk), Event.occurred_at >= since, Event.occurred_at <= now
            )
        )


def replies_of_leads(
    session: Session, *, lead_ids: Sequence[int], since: dt.datetime, now: dt.datetime
) -> Iterator[Any]:
    """Rows (lead_id, occurred_at, text, meta) of the leads' replies and inbound messages in
    [since, now], oldest first within each chunk of leads."""
    for chunk in chunks(lead_ids):
        yield from session.execute(
            select(Event.lead_id, Event.occurred_at, Event.text, Event.meta)
            .where(
                Event.lead_id.in_(chunk),
                Event.type.in_(REPLY_TYPES),
                Event.occurred_at >= since,
                Event.occurred_at <= now,
            )
            .order_by(Event.occurred_at)
        )


# --- one lead (every decision): statements built once ---------------------------------------

_CONSENTS_OF_PHONE = (
    select(Consent.kind, Consent.brand, Consent.occurred_at, Consent.method)
    .where(Consent.phone_e164 == bindparam("phone"), Consent.occurred_at <= bindparam("now"))
    .order_by(Consent.occurred_at, Consent.id)
)
_LATEST_SUPPRESSION_OF_PHONE = (
    select(Suppression.action, Suppression.reason, Suppression.source, Suppression.created_at)
    .where(Suppression.phone_e164 == bindparam("phone"), Suppression.created_at <= bindparam("now"))
    .order_by(Suppression.created_at.desc(), Suppression.id.desc())
    .limit(1)
)
_DNC_IMPORTS_WITH_PHONE = (
    select(
        DncImport.id,
        DncImport.registry_name.label("registry_name"),  # the attribute's name, not the column's
        DncImport.as_of,
        exists()
        .where(DncNumber.import_id == DncImport.id, DncNumber.phone_e164 == bindparam("phone"))
        .label("listed"),
    )
    .where(DncImport.imported_at <= bindparam("now"))
    .order_by(DncImport.as_of.desc(), DncImport.id.desc())
)
_SENDS_AND_REPLIES_OF_LEAD = (
    select(Event.type, Event.occurred_at, Event.text, Event.meta)
    .where(
        Event.lead_id == bindparam("lead"),
        Event.occurred_at <= bindparam("now"),
        or_(
            and_(Event.type == "sent", Event.marketing.is_(True)),
            and_(Event.type.in_(REPLY_TYPES), Event.occurred_at >= bindparam("earliest")),
        ),
    )
    .order_by(Event.occurred_at)
)
_BANNED_SINCE = select(BannedDate.state, BannedDate.day, BannedDate.reason).where(
    BannedDate.day >= bindparam("since")
)


def consents_of_phone(session: Session, *, phone: str, now: dt.datetime) -> Iterable[Any]:
    """Rows (kind, brand, occurred_at, method) of the number's ledger up to ``now``, in order."""
    return core_execute(session, _CONSENTS_OF_PHONE, {"phone": phone, "now": now})


def latest_suppression_of_phone(session: Session, *, phone: str, until: dt.datetime) -> Any:
    """The number's latest suppression row (action, reason, source, created_at) stored with a
    time up to ``until``, or ``None``."""
    return core_execute(
        session, _LATEST_SUPPRESSION_OF_PHONE, {"phone": phone, "now": until}
    ).first()


def dnc_imports_with_phone(session: Session, *, phone: str, now: dt.datetime) -> Iterable[Any]:
    """Rows (id, registry_name, as_of, listed) of every registry copy imported by ``now``,
    newest first, ``listed`` saying whether it lists the number."""
    return core_execute(session, _DNC_IMPORTS_WITH_PHONE, {"phone": phone, "now": now})


def sends_and_replies_of_lead(
    session: Session, *, lead_id: int, since: dt.datetime, now: dt.datetime
) -> Iterable[Any]:
    """Rows (type, occurred_at, text, meta), oldest first: every marketing send up to ``now``
    and the replies and inbound messages in [since, now]."""
    return core_execute(
        session, _SENDS_AND_REPLIES_OF_LEAD, {"lead": lead_id, "now": now, "earliest": since}
    )


def banned_days_since(session: Session, *, since: dt.date) -> Iterable[Any]:
    """Rows (state, day, reason) of the run-time banned days from ``since`` on."""
    return core_execute(session, _BANNED_SINCE, {"since": since})


# --- writes (append-only) ----------------------------------------------------------------


def append_opt_out(
    session: Session,
    *,
    lead_id: int | None,
    phone_e164: str,
    brand: str | None,
    text: str | None,
    channel: str,
    at: dt.datetime,
    recorded_at: dt.datetime,
    rule: str | None,
    reason: str,
    confirmation_text: str | None,
) -> tuple[int, int]:
    """Append the revocation to ``consents`` and the suppression to ``suppressions``; their ids."""
    revoke = Consent(
        kind="revoke",
        lead_id=lead_id,
        phone_e164=phone_e164,
        brand=brand,
        occurred_at=at,
        recorded_at=recorded_at,
        channel=channel,
        raw_text=text,
        rule_matched=rule,
        confirmation_text=confirmation_text,
    )
    suppression = Suppression(
        phone_e164=phone_e164,
        lead_id=lead_id,
        action="suppress",
        reason=reason,
        source=f"inbound_{channel}",
        detail=text,
        created_at=at,
    )
    session.add_all([revoke, suppression])
    session.flush()
    return revoke.id, suppression.id


def append_dnc_import(
    session: Session,
    *,
    registry: str,
    as_of: dt.date,
    now: dt.datetime,
    source_name: str | None,
    numbers: Sequence[str],
    invalid: int,
) -> DncImport:
    """Store one registry copy: its row, then its numbers in batches of DNC_INSERT_ROWS."""
    row = DncImport(
        registry_name=registry,
        as_of=as_of,
        imported_at=now,
        source_name=source_name,
        numbers=len(numbers),
        invalid=invalid,
    )
    session.add(row)
    session.flush()
    values: list[Mapping[str, Any]] = [
        {"import_id": row.id, "registry_name": registry, "phone_e164": n} for n in numbers
    ]
    for start in range(0, len(values), DNC_INSERT_ROWS):
        session.execute(insert(DncNumber), values[start : start + DNC_INSERT_ROWS])
    return row
