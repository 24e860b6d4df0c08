"""Serialising what must not interleave: for one number, an opt-out and a send; and the arm
statistics a unit of work moves, taken in one order.

An opt-out stored and a confirm at dispatch for the same number must happen one after the
other, and the confirm's gate must see every opt-out committed before it. On SQLite the
database has one writer: a writing transaction begins with ``BEGIN IMMEDIATE`` (see
:func:`optimizer.store.db.make_engine`), so its first statement waits for the write lock and
everything it reads after that is current. On PostgreSQL each number has a transaction-level
advisory lock, taken in a fixed order (no deadlock between two units of work that lock several
numbers); READ COMMITTED then shows every row committed before each later statement.

Callers read their clock *after* :func:`lock_numbers` returns, so a suppression stored before
the lock was granted is never "in the future" of the unit of work that waited for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import bindparam, or_, select, text
from sqlalchemy.orm import Session

from optimizer.store.models import ArmStats, Decision

_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(bindparam("key"))


def number_lock_key(phone_e164: str) -> int:
    """A stable signed 64-bit key for a number's advisory lock (the same in every process)."""
    digest = hashlib.blake2b(phone_e164.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_numbers(session: Session, phones: Iterable[str]) -> None:
    """Hold, until this transaction ends, the lock that serialises opt-outs and sends of each
    number in ``phones`` (on SQLite, the database's write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        for key in sorted({number_lock_key(phone) for phone in phones}):
            session.execute(_ADVISORY_LOCK, {"key": key})
    else:
        # The writing engine begins with BEGIN IMMEDIATE: getting the connection begins the
        # transaction, which waits for (and then holds) the one write lock.
        session.connection()


def lock_arms_of(session: Session, *, lead_ids: Iterable[int], decision_ids: Iterable[str]) -> None:
    """Hold, until this transaction ends, the statistics rows of every arm of the experiments
    that these leads' decisions (or these decisions) belong to, taken in variant order.

    On PostgreSQL two event batches that credit several arms would otherwise lock those rows
    in the order their events come (``UPDATE arm_stats ...``) and could deadlock each other
    (one of them then fails). Take it after :func:`lock_numbers` (the order every unit of work
    follows: numbers, then arms). On SQLite the write lock already serialises them: a no-op.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    leads = sorted(set(lead_ids))
    decisions = sorted(set(decision_ids))
    if not leads and not decisions:
        return
    experiments: set[int] = set()
    for start in range(0, max(len(leads), len(decisions)), 5000):
        lead_chunk, decision_chunk = leads[start : start + 5000], decisions[start : start + 5000]
        experiments.update(
            session.scalars(
                select(Decision.experiment_id)
                .where(
                    Decision.experiment_id.is_not(None),
                    or_(Decision.lead_id.in_(lead_chunk), Decision.id.in_(decision_chunk)),
                )
                .distinct()
            )
        )
    if experiments:
        session.execute(
            select(ArmStats.variant_id)
            .where(ArmStats.experiment_id.in_(sorted(experiments)))
            .order_by(ArmStats.variant_id)
            .with_for_update()
        ).all()
