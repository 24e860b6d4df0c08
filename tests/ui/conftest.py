"""A filled store with keys, and the app with the ui and reports routers registered."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import api.app
from optimizer.ingest.keys import create_key
from optimizer.settings import Settings
from optimizer.store.db import make_engine, session_factory, upgrade
from tests.reports.factory import World, fill_store

ROUTERS = ("ui", "reports")


@dataclass(frozen=True)
class Site:
    settings: Settings
    database_url: str
    world: World
    read_key: str
    decide_key: str
    admin_key: str


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    var_dir: Path = tmp_path_factory.mktemp("ui") / "var"
    settings = Settings(var_dir=var_dir)
    url = settings.resolved_database_url()
    engine = make_engine(url)
    upgrade(engine)
    now = dt.datetime.now(dt.UTC)
    with session_factory(engine)() as session:
        world = fill_store(session)
        keys = {
            scope: create_key(session, scopes=[scope], name=f"ui-{scope}", now=now).plaintext
            for scope in ("read", "decide", "admin")
        }
        session.commit()
    engine.dispose()
    yield Site(settings, url, world, keys["read"], keys["decide"], keys["admin"])


@pytest.fixture
def client(site: Site, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(api.app, "_OPTIONAL_ROUTERS", ROUTERS)
    # The pages never use the decision models: skip loading them (an MLflow store) at start-up.
    if hasattr(api.app, "_load_models"):
        monkeypatch.setattr(api.app, "_load_models", lambda state: None)
    with TestClient(api.app.create_app(site.settings), follow_redirects=False) as test_client:
        yield test_client
