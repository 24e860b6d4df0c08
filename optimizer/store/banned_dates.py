"""Run-time banned days (governor-declared holidays, emergencies): the ``banned_dates`` table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from optimizer.errors import Conflict, InvalidInput
from optimizer.phones import STATE_CODES
from optimizer.store.models import BannedDate


def add_banned_date(
    session: Session, *, state: str, day: dt.date, reason: str, now: dt.datetime
) -> BannedDate:
    """Store a run-time banned day (state ``US`` = every state); the unique (state, day)
    constraint refuses a duplicate (:class:`Conflict`)."""
    code = state.strip().upper()
    if code != "US" and code not in STATE_CODES:
        raise InvalidInput(
            f"state {state!r} is not a US state (two-letter code such as LA, or US for every state)",
            field="state",
        )
    if not reason.strip():
        raise InvalidInput("reason '' is empty (why the day is banned expected)", field="reason")
    row = BannedDate(state=code, day=day, reason=reason.strip(), created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{code} {day.isoformat()} is already a banned date", field="date") from exc
    return row
