"""Dependencies shared by the routes: app state, one DB session per request, API-key auth."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from api.errors import http_error
from api.state import AppState
from optimizer.service.keys import has_scope, verify_key
from optimizer.settings import Settings
from optimizer.store.db import transaction
from optimizer.store.models import ApiKey

AUTH_COOKIE = "optimizer_key"


def get_state(request: Request) -> AppState:
    return request.app.state.optimizer  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(state: StateDep) -> Iterator[Session]:
    """One writing transaction per request: committed when the route returns, rolled back on
    error."""
    yield from _unit_of_work(state.write_sessions)


def get_read_session(state: StateDep) -> Iterator[Session]:
    """A reading session: it takes no write lock, so long reads and model scoring do not hold
    up writers."""
    yield from _unit_of_work(state.sessions)


def _unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    with transaction(factory) as session:
        yield session


# Committed before the response leaves: a client that reads its own write sees it.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
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


def authenticate(request: Request, state: AppState, *, allow_cookie: bool = False) -> ApiKey | None:
    token = _bearer(request)
    if token is None and allow_cookie:
        token = request.cookies.get(AUTH_COOKIE)
    if token is None:
        return None
    with state.sessions() as session:
        key = verify_key(session, token)
        if key is not None:
            session.expunge(key)
        return key


def require_scope(scope: str) -> Callable[..., ApiKey]:
    """Dependency: a valid bearer key (401 otherwise) that has ``scope`` (403 otherwise)."""

    def dependency(request: Request, state: StateDep) -> ApiKey:
        key = authenticate(request, state)
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


DecideKey = Annotated[ApiKey, Depends(require_scope("decide"))]
IngestKey = Annotated[ApiKey, Depends(require_scope("ingest"))]
ReadKey = Annotated[ApiKey, Depends(require_scope("read"))]
AdminKey = Annotated[ApiKey, Depends(require_scope("admin"))]
