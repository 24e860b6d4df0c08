"""Verified API keys are trusted for ``key_cache_seconds``; a revoked key stops working after."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from optimizer.errors import InvalidInput
from optimizer.ingest.keys import KeyIdentity, VerifiedKeyCache, create_key, verify_key
from optimizer.store.db import transaction
from optimizer.store.models import ApiKey

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def test_cache_keeps_a_verified_key_for_its_ttl_only() -> None:
    cache = VerifiedKeyCache(5.0)
    who = KeyIdentity(1, "engine", ("decide",))
    assert cache.get("sk_abc_secret", 100.0) is None
    cache.put("sk_abc_secret", who, 100.0)
    assert cache.get("sk_abc_secret", 104.9) == who
    assert cache.get("sk_abc_secret", 105.0) is None  # expired
    assert cache.get("sk_abc_other", 101.0) is None  # another key is not this one
    assert "sk_abc_secret" not in repr(cache._entries)  # only the hash is kept


def test_ttl_zero_turns_the_cache_off_and_negative_is_refused() -> None:
    cache = VerifiedKeyCache(0.0)
    cache.put("sk_abc_secret", KeyIdentity(1, "engine", ("decide",)), 100.0)
    assert cache.get("sk_abc_secret", 100.0) is None
    with pytest.raises(InvalidInput, match="-1"):
        VerifiedKeyCache(-1)


def test_cache_stays_bounded() -> None:
    cache = VerifiedKeyCache(5.0, max_entries=10)
    for n in range(25):
        cache.put(f"sk_{n}_x", KeyIdentity(n, "k", ("read",)), 100.0)
    assert len(cache._entries) <= 10
    assert cache.get("sk_24_x", 100.0) is not None


def test_a_revoked_key_is_refused_once_its_cache_entry_expires(
    sessions: sessionmaker[Session],
) -> None:
    from api.deps import authenticate
    from api.state import AppState

    with transaction(sessions) as session:
        key = create_key(session, scopes=["decide"], name="engine", now=NOW)
    state = AppState(
        settings=None,  # type: ignore[arg-type]
        engine=None,  # type: ignore[arg-type]
        sessions=sessions,
        schema_revision=None,
        keys=VerifiedKeyCache(3600.0),
    )

    class Request:  # the two attributes authenticate() reads
        headers = {"authorization": f"Bearer {key.plaintext}"}
        cookies: dict[str, str] = {}

    first = authenticate(Request(), state)  # type: ignore[arg-type]
    assert first == KeyIdentity(key.id, "engine", ("decide",))
    with transaction(sessions) as session:
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=NOW))
        assert verify_key(session, key.plaintext) is None
    # Within the TTL the cached verification answers; once it lapses, the store refuses.
    assert authenticate(Request(), state) == first  # type: ignore[arg-type]
    state.keys = VerifiedKeyCache(3600.0)
    assert authenticate(Request(), state) is None  # type: ignore[arg-type]
