"""Dependencies shared by the routes: app state, one DB session per request, API-key auth."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Request

from api.errors import http_error
from api.state import AppState
from optimizer.ingest.keys import KeyIdentity, has_scope, verify_key
from optimizer.settings import Settings
from optimizer.store.db import Session, transaction

AUTH_COOKIE = "optimizer_key"


# Dependencies that neither block nor wait are ``async def``: FastAPI runs a plain ``def``
# dependency in its thread pool, and each such hop costs a request about a tenth of a
# millisecond or more under load.


async def get_state(request: Request) -> AppState:
    return request.app.state.optimizer  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


T = TypeVar("T")


async def run_write(state: AppState, work: Callable[[Session], T]) -> T:
    """Run one writing unit of work — begin, ``work(session)``, commit — in a single call on one
    pool thread, and return its result (plain data: built before the commit, read after it).

    This is the API's transaction model. Nothing that needs another pool thread (a sync
    dependency's exit, a sync route's response validation) runs while the write lock is held:
    with writing sessions as dependencies, every pool thread could wait in ``BEGIN IMMEDIATE``
    while the request holding the lock waited for a pool thread to commit.
    """
    return await anyio.to_thread.run_sync(_in_write_transaction, state, work)


def _in_write_transaction(state: AppState, work: Callable[[Session], T]) -> T:
    with state.writer_turn(), transaction(state.write_sessions) as session:
        return work(session)


async def get_read_session(state: StateDep) -> AsyncIterator[Session]:
    """A reading session: it takes no write lock, so long reads and model scoring do not hold
    up writers. Opening one does not touch the database (the first query does, in the route's
    thread); it is closed, returning its connection, after the route."""
    session = state.sessions()
    try:
        yield session
    finally:
        session.close()


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


def server_now() -> dt.datetime:
    """The server's clock: the only place the API reads it."""
    return dt.datetime.now(dt.UTC)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def authenticate(
    request: Request, state: AppState, *, allow_cookie: bool = False
) -> KeyIdentity | None:
    """The key presented with the request, verified against the store (or the cache of keys
    verified in the last ``key_cache_seconds``); None when absent or not valid."""
    token = _presented_key(request, allow_cookie=allow_cookie)
    if token is None:
        return None
    return state.keys.get(token, time.monotonic()) or _verify(state, token)


def _presented_key(request: Request, *, allow_cookie: bool) -> str | None:
    token = _bearer(request)
    if token is None and allow_cookie:
        token = request.cookies.get(AUTH_COOKIE)
    return token


def _verify(state: AppState, token: str) -> KeyIdentity | None:
    with state.sessions() as session:
        row = verify_key(session, token)
        identity = KeyIdentity.of(row) if row is not None else None
    if identity is not None:
        state.keys.put(token, identity, time.monotonic())
    return identity


def require_scope(scope: str) -> Callable[..., Coroutine[Any, Any, KeyIdentity]]:
    """Dependency: a valid bearer key (401 otherwise) that has ``scope`` (403 otherwise). A key
    found in the cache costs no thread hop; one that is not is verified in the thread pool."""

    async def dependency(request: Request, state: StateDep) -> KeyIdentity:
        token = _presented_key(request, allow_cookie=False)
        key = None
        if token is not None:
            key = state.keys.get(token, time.monotonic())
            if key is None:
                key = await anyio.to_thread.run_sync(_verify, state, token)
        if key is None:
            raise http_error(
                401,
                "unauthorized",
                "missing or invalid API key (Authorization: Bearer <key> expected)",
            )
        if not has_scope(key, scope):
            raise http_error(403, "forbidden", f"API key {key.name!r} lacks the {scope!r} scope")
        return key

    return dependency


DecideKey = Annotated[KeyIdentity, Depends(require_scope("decide"))]
IngestKey = Annotated[KeyIdentity, Depends(require_scope("ingest"))]
ReadKey = Annotated[KeyIdentity, Depends(require_scope("read"))]
AdminKey = Annotated[KeyIdentity, Depends(require_scope("admin"))]
