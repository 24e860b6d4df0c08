"""The real app on a real socket: uvicorn in a thread on 127.0.0.1, driven with httpx.

Every test that uses ``live_settings`` or ``live_server`` runs twice, on a SQLite store and on a
PostgreSQL database of the session's throw-away server (ids ``sqlite`` and ``postgresql``; the
second is marked ``postgres``). A PostgreSQL database is a copy of one migrated template
(``CREATE DATABASE … TEMPLATE``: milliseconds, against a second of migrations). Each server
records the (method, route template) pairs it answered, by store, for the route-coverage test.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.app import create_app
from optimizer.ingest.keys import create_key
from optimizer.settings import Settings
from optimizer.store.db import make_engine, session_factory, transaction, upgrade
from tests.dnc_copies import import_test_registry
from tests.pg_server import PgServer

STORES = ("sqlite", "postgresql")
# (method, route template) answered by the test servers, per store; see test_route_coverage.
ANSWERED: dict[str, set[tuple[str, str]]] = {store: set() for store in STORES}
_databases = itertools.count()
_TEMPLATES: set[str] = set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    settings: Settings
    keys: dict[str, str]
    store: str = "sqlite"

    def client(self, scope: str = "admin") -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.keys[scope]}"},
            timeout=30,
        )


def make_keys(settings: Settings, *, dnc_registry: bool = True) -> dict[str, str]:
    """A key per scope; the store gets the test DNC registry copies unless ``dnc_registry``
    is False (then the gate denies with ``dnc.registry_missing``)."""
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    if dnc_registry:
        import_test_registry(engine)
    keys = {}
    with transaction(session_factory(engine)) as session:
        for scope in ("admin", "decide", "ingest", "read"):
            keys[scope] = create_key(
                session, scopes=[scope], name=f"test-{scope}", now=dt.datetime.now(dt.UTC)
            ).plaintext
    engine.dispose()
    return keys


@pytest.fixture(scope="session")
def shared_mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One MLflow store for the API tests: creating its tables takes seconds."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def pg_api_template(pg_server_instance: PgServer) -> str:
    """A PostgreSQL database at the newest schema, made once per server: each test's database
    copies it. (Other test directories re-export this fixture, which makes it a fixture of
    theirs too: the template is remembered here so that it is created only once.)"""
    name = f"api_template_{os.getpid()}_{pg_server_instance.port}"
    if name not in _TEMPLATES:
        engine = make_engine(pg_server_instance.create_database(name))
        upgrade(engine)
        engine.dispose()  # no session may be connected to a template while it is copied
        _TEMPLATES.add(name)
    return name


@pytest.fixture(params=[STORES[0], pytest.param(STORES[1], marks=pytest.mark.postgres)])
def live_database(request: pytest.FixtureRequest) -> str:
    """The test's store: "" (SQLite in the var dir: the settings' default) or the URL of a new
    PostgreSQL database at the newest schema."""
    if request.param == "sqlite":
        return ""
    server: PgServer = request.getfixturevalue("pg_server_instance")
    template: str = request.getfixturevalue("pg_api_template")
    return server.create_database(f"api_{os.getpid()}_{next(_databases)}", template=template)


@pytest.fixture
def live_settings(tmp_path: Path, shared_mlflow_uri: str, live_database: str) -> Settings:
    return Settings(
        var_dir=tmp_path / "var",
        database_url=live_database,
        mlflow_tracking_uri=shared_mlflow_uri,
        simulation=True,
        brand_name="Acme Dental",
        seed=11,
    )


@pytest.fixture
def live_server(live_settings: Settings, live_database: str) -> Iterator[LiveServer]:
    # A test module's own live_settings (without a store) gets the test's store here.
    if live_database and not live_settings.database_url:
        live_settings = live_settings.model_copy(update={"database_url": live_database})
    yield from serve(live_settings)


def store_of(settings: Settings) -> str:
    """ "sqlite" or "postgresql": the backend of the settings' store."""
    return make_url(settings.resolved_database_url()).get_backend_name()


class RouteRecorder:
    """ASGI wrapper noting (method, route template) of every HTTP request the app answered:
    the route the app matched (FastAPI's routes name themselves in the scope), else, for a
    route that does not (Starlette's docs routes, no path parameters), the path itself unless
    the answer was 404."""

    def __init__(self, app: ASGIApp, seen: set[tuple[str, str]]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            path = getattr(scope.get("route"), "path", None)
            if path is None and status not in (0, 404):
                path = scope["path"]
            if path is not None:
                self.seen.add((scope["method"], path))


def serve(live_settings: Settings, *, dnc_registry: bool = True) -> Iterator[LiveServer]:
    """The app on a real socket for the duration of the generator."""
    keys = make_keys(live_settings, dnc_registry=dnc_registry)
    store = store_of(live_settings)
    port = free_port()
    config = uvicorn.Config(
        RouteRecorder(create_app(live_settings), ANSWERED[store]),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():  # pragma: no cover
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield LiveServer(
        base_url=f"http://127.0.0.1:{port}", settings=live_settings, keys=keys, store=store
    )
    server.should_exit = True
    thread.join(timeout=30)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The route-coverage check runs after every other test of the session."""
    last = [item for item in items if item.name == "test_every_route_is_requested_on_postgresql"]
    items[:] = [item for item in items if item not in last] + last
