"""UI sessions: the login form's cookie holds a random token, never the API key.

The token (256 bits from :mod:`secrets`) is stored only as its SHA-256, with an expiry and the
key that opened it; logging out deletes it, and a revoked key's sessions stop working at once
(the lookup requires the key to be active).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from optimizer.ingest.keys import KeyIdentity
from optimizer.store import access_repo
from optimizer.store.db import Session

TOKEN_PREFIX = "us_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_session(
    session: Session, *, api_key_id: int, now: dt.datetime, ttl: dt.timedelta
) -> str:
    """A new session for key ``api_key_id``; returns its token (shown only to the browser).
    Sessions expired by ``now`` are removed on the way."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    access_repo.add_ui_session(
        session, token_hash=_hash(token), api_key_id=api_key_id, now=now, ttl=ttl
    )
    return token


def session_identity(session: Session, token: str, *, now: dt.datetime) -> KeyIdentity | None:
    """Who the session ``token`` belongs to, or None (unknown, expired, or its key revoked)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = access_repo.key_of_ui_session(session, token_hash=_hash(token), now=now)
    return KeyIdentity.of(row) if row is not None else None


def end_session(session: Session, token: str) -> bool:
    """Delete the session ``token`` (logout); False when there was none."""
    return access_repo.delete_ui_session(session, token_hash=_hash(token))
