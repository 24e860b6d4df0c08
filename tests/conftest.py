"""Shared fixtures: a fresh migrated SQLite store, a real PostgreSQL server, settings, MLflow."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from optimizer.settings import Settings, get_settings
from optimizer.store.db import make_engine, session_factory, upgrade
from tests import pg_server
from tests.dnc_copies import import_test_registry
from tests.mlflow_template import copy_store, migrated_store

DATA_DIR = Path(
    os.environ.get("OPTIMIZER_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own var dir, so nothing touches the developer's ./var."""
    monkeypatch.setenv("OPTIMIZER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("OPTIMIZER_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPTIMIZER_MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path / "var", data_dir=DATA_DIR)


@pytest.fixture
def bare_engine(tmp_path: Path) -> Iterator[Engine]:
    """A new SQLite store at the newest schema, with no DNC registry copy."""
    eng = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def engine(bare_engine: Engine) -> Engine:
    """A new SQLite store at the newest schema, with monthly national DNC registry copies."""
    import_test_registry(bare_engine)
    return bare_engine


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def bare_sessions(bare_engine: Engine) -> sessionmaker[Session]:
    return session_factory(bare_engine)


@pytest.fixture(scope="session")
def pg_server_instance() -> Iterator[pg_server.PgServer]:
    try:
        server = pg_server.start_server()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


_pg_counter = itertools.count()


@pytest.fixture
def pg_url(pg_server_instance: pg_server.PgServer) -> str:
    """URL of a new, empty PostgreSQL database on the test server."""
    return pg_server_instance.create_database(f"test_{os.getpid()}_{next(_pg_counter)}")


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    eng = make_engine(pg_url)
    upgrade(eng)
    import_test_registry(eng)
    yield eng
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The same test on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        eng = make_engine(request.getfixturevalue("pg_url"))
    upgrade(eng)
    import_test_registry(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def _mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated MLflow store per test session: creating its tables takes seconds."""
    return migrated_store(tmp_path_factory.mktemp("mlflow-template"))


@pytest.fixture
def mlflow_uri(tmp_path: Path, _mlflow_template: Path) -> str:
    """A fresh MLflow tracking store for one test (a copy of the migrated template)."""
    return copy_store(_mlflow_template, tmp_path)


@pytest.fixture
def ml_settings(settings: Settings, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose MLflow store is ``mlflow_uri``; the CLI (get_settings) sees the same."""
    monkeypatch.setenv("OPTIMIZER_MLFLOW_TRACKING_URI", mlflow_uri)
    get_settings.cache_clear()
    return settings.model_copy(update={"mlflow_tracking_uri": mlflow_uri})


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.exists():
        pytest.skip(f"real data folder {DATA_DIR} is absent (set OPTIMIZER_DATA_DIR)")
    return DATA_DIR
