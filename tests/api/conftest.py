"""The real app on a real socket: uvicorn in a thread on 127.0.0.1, driven with httpx."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.app import create_app
from optimizer.service.keys import create_key
from optimizer.settings import Settings
from optimizer.store.db import make_engine, session_factory, transaction, upgrade
from tests.dnc_copies import import_test_registry


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    settings: Settings
    keys: dict[str, str]

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


@pytest.fixture
def live_settings(tmp_path: Path, shared_mlflow_uri: str) -> Settings:
    return Settings(
        var_dir=tmp_path / "var",
        mlflow_tracking_uri=shared_mlflow_uri,
        simulation=True,
        brand_name="Acme Dental",
        seed=11,
    )


@pytest.fixture
def live_server(live_settings: Settings) -> Iterator[LiveServer]:
    yield from serve(live_settings)


def serve(live_settings: Settings, *, dnc_registry: bool = True) -> Iterator[LiveServer]:
    """The app on a real socket for the duration of the generator."""
    keys = make_keys(live_settings, dnc_registry=dnc_registry)
    port = free_port()
    config = uvicorn.Config(
        create_app(live_settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():  # pragma: no cover
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield LiveServer(base_url=f"http://127.0.0.1:{port}", settings=live_settings, keys=keys)
    server.should_exit = True
    thread.join(timeout=30)
