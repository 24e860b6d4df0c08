"""Who may call the service: API keys (stored hashed) and the UI's sessions in the store."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from optimizer.store.db import Session
from optimizer.store.models import ApiKey, UiSession


def add_key(
    session: Session,
    *,
    name: str,
    prefix: str,
    key_hash: str,
    scopes: list[str],
    now: dt.datetime,
) -> ApiKey:
    row = ApiKey(name=name, prefix=prefix, key_hash=key_hash, scopes=scopes, created_at=now)
    session.add(row)
    session.flush()
    return row


def key_by_prefix(session: Session, *, prefix: str) -> ApiKey | None:
    return session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()


def key_by_id(session: Session, *, key_id: int) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def keys_named(session: Session, *, name: str) -> list[ApiKey]:
    """The keys called ``name``, oldest first."""
    return list(session.scalars(select(ApiKey).where(ApiKey.name == name).order_by(ApiKey.id)))


def all_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, key: ApiKey, *, now: dt.datetime) -> None:
    """Mark the key revoked (a key revoked before keeps its first time) and delete its UI
    sessions."""
    if key.revoked_at is None:
        key.revoked_at = now
    session.execute(delete(UiSession).where(UiSession.api_key_id == key.id))
    session.flush()


def add_ui_session(
    session: Session, *, token_hash: str, api_key_id: int, now: dt.datetime, ttl: dt.timedelta
) -> None:
    """Store a UI session (removing the ones expired by ``now`` on the way)."""
    session.execute(delete(UiSession).where(UiSession.expires_at <= now))
    session.add(
        UiSession(
            token_hash=token_hash, api_key_id=api_key_id, created_at=now, expires_at=now + ttl
        )
    )
    session.flush()


def key_of_ui_session(session: Session, *, token_hash: str, now: dt.datetime) -> ApiKey | None:
    """The active key whose UI session ``token_hash`` is still open at ``now``."""
    return session.execute(
        select(ApiKey)
        .join(UiSession, UiSession.api_key_id == ApiKey.id)
        .where(
            UiSession.token_hash == token_hash,
            UiSession.expires_at > now,
            ApiKey.revoked_at.is_(None),
        )
    ).scalar_one_or_none()


def delete_ui_session(session: Session, *, token_hash: str) -> bool:
    """Delete the UI session; False when there was none."""
    result = session.execute(delete(UiSession).where(UiSession.token_hash == token_hash))
    return bool(getattr(result, "rowcount", 0))
