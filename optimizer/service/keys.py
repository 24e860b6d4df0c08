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

from sqlalchemy import select
from sqlalchemy.orm import Session

from optimizer.errors import InvalidInput
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
    row = ApiKey(
        name=name, prefix=prefix, key_hash=_hash(plaintext), scopes=list(valid), created_at=now
    )
    session.add(row)
    session.flush()
    return NewKey(id=row.id, name=name, scopes=valid, plaintext=plaintext)


def verify_key(session: Session, plaintext: str) -> ApiKey | None:
    """The active key for ``plaintext``, or None."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != "sk":
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == parts[1])).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(plaintext)):
        return None
    return row


def has_scope(key: ApiKey, scope: str) -> bool:
    return "admin" in key.scopes or scope in key.scopes
