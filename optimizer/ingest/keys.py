"""API keys: shown once, stored as a SHA-256 hash, with scopes.

Keys are 256-bit random secrets, so a fast hash is enough (no password stretching needed); the
prefix lets a key be found without scanning every hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from optimizer.errors import InvalidInput, NotFound
from optimizer.store import access_repo
from optimizer.store.db import Session
from optimizer.store.models import ApiKey

SCOPES = ("decide", "ingest", "read", "admin")


@dataclass(frozen=True, slots=True)
class NewKey:
    id: int
    name: str
    scopes: tuple[str, ...]
    plaintext: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def validate_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    result = []
    for scope in scopes:
        if scope not in SCOPES:
            raise InvalidInput(f"scope {scope!r} is unknown (expected one of {', '.join(SCOPES)})")
        if scope not in result:
            result.append(scope)
    if not result:
        raise InvalidInput(f"at least one scope is required (one of {', '.join(SCOPES)})")
    return tuple(result)


def create_key(session: Session, *, scopes: Iterable[str], name: str, now: dt.datetime) -> NewKey:
    valid = validate_scopes(scopes)
    prefix = secrets.token_hex(6)
    plaintext = f"sk_{prefix}_{secrets.token_urlsafe(32)}"
    row = access_repo.add_key(
        session, name=name, prefix=prefix, key_hash=_hash(plaintext), scopes=list(valid), now=now
    )
    return NewKey(id=row.id, name=name, scopes=valid, plaintext=plaintext)


def verify_key(session: Session, plaintext: str) -> ApiKey | None:
    """The active key for ``plaintext``, or None."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != "sk":
        return None
    row = access_repo.key_by_prefix(session, prefix=parts[1])
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(plaintext)):
        return None
    return row


def find_key(session: Session, ident: str | int) -> ApiKey:
    """The key with id ``ident`` (digits) or name ``ident``; a name that several keys share is
    refused, naming their ids."""
    text = str(ident).strip()
    if text.isdigit():
        found = access_repo.key_by_id(session, key_id=int(text))
        if found is None:
            raise NotFound(f"API key {text} does not exist", field="id")
        return found
    rows = access_repo.keys_named(session, name=text)
    if not rows:
        raise NotFound(f"no API key is named {text!r} (an id or a name expected)", field="id")
    active = [r for r in rows if r.revoked_at is None] or rows
    if len(active) > 1:
        ids = ", ".join(str(r.id) for r in active)
        raise InvalidInput(f"{len(active)} keys are named {text!r} (ids {ids}): give the id")
    return active[0]


def revoke_key(session: Session, ident: str | int, *, now: dt.datetime) -> ApiKey:
    """Revoke a key (by id or name) and end its UI sessions; revoking it again keeps the first
    time."""
    row = find_key(session, ident)
    access_repo.revoke_key(session, row, now=now)
    return row


def key_summary(row: ApiKey) -> dict[str, object]:
    """What may be shown of a key (the API's and the CLI's listing): never the key or its hash."""
    return {
        "id": row.id,
        "name": row.name,
        "scopes": list(row.scopes),
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


def list_keys(session: Session) -> list[ApiKey]:
    return access_repo.all_keys(session)


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    """Who a verified key belongs to and what it may do (no secret, no hash)."""

    id: int
    name: str
    scopes: tuple[str, ...]

    @classmethod
    def of(cls, row: ApiKey) -> KeyIdentity:
        return cls(row.id, row.name, tuple(row.scopes))


def has_scope(key: ApiKey | KeyIdentity, scope: str) -> bool:
    return "admin" in key.scopes or scope in key.scopes


class VerifiedKeyCache:
    """Keys verified against the store within the last ``ttl_seconds``, found by the SHA-256 of
    the presented key, so that a request does not query the store for its key. Only successful
    verifications are kept; a key revoked in the store stops working within ``ttl_seconds``
    (0 turns the cache off). ``now`` is a monotonic clock reading given by the caller."""

    def __init__(self, ttl_seconds: float, max_entries: int = 1024) -> None:
        if ttl_seconds < 0:
            raise InvalidInput(f"key cache ttl {ttl_seconds!r}: must be >= 0", field="ttl_seconds")
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[KeyIdentity, float]] = {}

    def get(self, plaintext: str, now: float) -> KeyIdentity | None:
        entry = self._entries.get(_hash(plaintext))
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    def drop(self, key_id: int) -> None:
        """Forget every verification of key ``key_id`` (it was revoked in this process)."""
        self._entries = {k: v for k, v in self._entries.items() if v[0].id != key_id}

    def put(self, plaintext: str, identity: KeyIdentity, now: float) -> None:
        if self.ttl_seconds <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[_hash(plaintext)] = (identity, now + self.ttl_seconds)
