"""The event log in the store, as ingestion writes it: events inserted idempotently (a key
stored once), the keys and actions already stored, and the decisions and confirmations an
incoming event is checked against and credited to. Chunked ``IN`` lists for batches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import insert, select

from optimizer.store.db import IntegrityError, Session
from optimizer.store.models import Decision, DecisionConfirmation, Event, Experiment, Lead

CHUNK = 5000


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def leads_by_id(session: Session, *, lead_ids: Collection[int]) -> dict[int, Lead]:
    """The leads among ``lead_ids`` that exist, by id (in the session)."""
    found: dict[int, Lead] = {}
    for chunk in _chunks(sorted(lead_ids)):
        found.update(
            (lead.id, lead) for lead in session.scalars(select(Lead).where(Lead.id.in_(chunk)))
        )
    return found


def stored_keys(session: Session, *, keys: Sequence[str]) -> set[str]:
    """The idempotency keys among ``keys`` already in the log."""
    seen: set[str] = set()
    for chunk in _chunks(keys):
        seen.update(
            session.scalars(select(Event.idempotency_key).where(Event.idempotency_key.in_(chunk)))
        )
    return seen


def ids_by_key(session: Session, *, keys: Sequence[str]) -> list[int | None]:
    """Per key, the id of its event (None when the key is not stored)."""
    found: dict[str, int] = {}
    for chunk in _chunks(keys):
        rows = session.execute(
            select(Event.idempotency_key, Event.id).where(Event.idempotency_key.in_(chunk))
        )
        found.update((str(key), int(event_id)) for key, event_id in rows)
    return [found.get(key) for key in keys]


def insert_events(session: Session, rows: list[dict[str, Any]]) -> list[int | None]:
    """Insert ``rows`` in one statement; if a concurrent writer stored a key first, row by row.

    Returns, per row, the new event id, or None where the key turned out to be a duplicate.
    """
    if not rows:
        return []
    try:
        with session.begin_nested():
            session.execute(insert(Event), rows)
        return ids_by_key(session, keys=[row["idempotency_key"] for row in rows])
    except IntegrityError:
        pass  # the savepoint is rolled back; retry one by one
    ids: list[int | None] = []
    for row in rows:
        try:
            with session.begin_nested():
                session.execute(insert(Event), [row])
            ids.append(ids_by_key(session, keys=[row["idempotency_key"]])[0])
        except IntegrityError:
            ids.append(None)
    return ids


def metas_by_key(session: Session, *, keys: Sequence[str]) -> dict[str, dict[str, Any] | None]:
    """The stored ``meta`` of each key's event (keys not stored are absent)."""
    found: dict[str, dict[str, Any] | None] = {}
    for chunk in _chunks(list(keys)):
        for key, meta in session.execute(
            select(Event.idempotency_key, Event.meta).where(Event.idempotency_key.in_(chunk))
        ):
            found[str(key)] = meta
    return found


def decision_owners(session: Session, *, decision_ids: Sequence[str]) -> dict[str, int]:
    """Decision id -> its lead id, for the decisions that exist."""
    owners: dict[str, int] = {}
    for chunk in _chunks(decision_ids):
        owners.update(
            (str(decision_id), int(lead_id))
            for decision_id, lead_id in session.execute(
                select(Decision.id, Decision.lead_id).where(Decision.id.in_(chunk))
            )
        )
    return owners


def allowed_decisions(session: Session, *, decision_ids: Sequence[str]) -> set[str]:
    """The decisions among ``decision_ids`` whose dispatch-time confirmation allowed the send."""
    cleared: set[str] = set()
    for chunk in _chunks(decision_ids):
        cleared.update(
            str(decision_id)
            for decision_id in session.scalars(
                select(DecisionConfirmation.decision_id).where(
                    DecisionConfirmation.decision_id.in_(chunk),
                    DecisionConfirmation.allowed.is_(True),
                )
            )
        )
    return cleared


def leads_with_experiment_decisions(session: Session, *, lead_ids: Collection[int]) -> set[int]:
    """The leads among ``lead_ids`` with any experiment decision."""
    found: set[int] = set()
    for chunk in _chunks(sorted(lead_ids)):
        found.update(
            session.scalars(
                select(Decision.lead_id)
                .where(Decision.lead_id.in_(chunk), Decision.experiment_id.is_not(None))
                .distinct()
            )
        )
    return found


def decision_by_id(session: Session, decision_id: str) -> Decision | None:
    return session.get(Decision, decision_id)


def experiment_by_id(session: Session, experiment_id: int) -> Experiment | None:
    return session.get(Experiment, experiment_id)


def latest_confirmed_experiment_decision(
    session: Session, *, lead_id: int, at: dt.datetime
) -> Decision | None:
    """The lead's experiment decision confirmed as sent most recently by ``at``."""
    return session.scalars(
        select(Decision)
        .join(DecisionConfirmation, DecisionConfirmation.decision_id == Decision.id)
        .where(
            Decision.lead_id == lead_id,
            Decision.experiment_id.is_not(None),
            DecisionConfirmation.allowed.is_(True),
            DecisionConfirmation.confirmed_at <= at,
        )
        .order_by(DecisionConfirmation.confirmed_at.desc())
        .limit(1)
    ).first()


def add_event(session: Session, **fields: Any) -> Event:
    """Add one event to the session (stored at its next flush or commit)."""
    event = Event(**fields)
    session.add(event)
    return event
