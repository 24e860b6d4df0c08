"""UI sessions: the login form's cookie holds a random token, never the API key.

The token (256 bits from :mod:`secrets`) is stored only as its SHA-256, with an expiry and the
key that opened it; logging out deletes it, and a revoked key's sessions stop working at once
(the lookup requires the key to be active).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from optimizer.service.keys import KeyIdentity
from optimizer.store.models import ApiKey, UiSession

TOKEN_PREFIX = "us_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_session(
    session: Session, *, api_key_id: int, now: dt.datetime, ttl: dt.timedelta
) -> str:
    """A new session for key ``api_key_id``; returns its token (shown only to the browser).
    Sessions expired by ``now`` are removed on the way."""
    session.execute(delete(UiSession).where(UiSession.expires_at <= now))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        UiSession(
            token_hash=_hash(token), api_key_id=api_key_id, created_at=now, expires_at=now + ttl
        )
    )
    session.flush()
    return token


def session_identity(session: Session, token: str, *, now: dt.datetime) -> KeyIdentity | None:
    """Who the session ``token`` belongs to, or None (unknown, expired, or its key revoked)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.execute(
        select(ApiKey)
        .join(UiSession, UiSession.api_key_id == ApiKey.id)
        .where(
            UiSession.token_hash == _hash(token),
            UiSession.expires_at > now,
            ApiKey.revoked_at.is_(None),
        )
    ).scalar_one_or_none()
    return KeyIdentity.of(row) if row is not None else None


def end_session(session: Session, token: str) -> bool:
    """Delete the session ``token`` (logout); False when there was none."""
    result = session.execute(delete(UiSession).where(UiSession.token_hash == _hash(token)))
    return bool(getattr(result, "rowcount", 0))
