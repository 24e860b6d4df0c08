"""Serialising what must not interleave: for one number, an opt-out and a send.

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

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

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
