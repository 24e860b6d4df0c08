"""Decision threads and the store engine's pool: PostgreSQL defaults (2 decision threads, one
connection per thread that may hold one plus a small overflow), SQLite as before, the
OPTIMIZER_POOL_* overrides, and negatives refused with a line naming the variable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from api.app import create_app
from optimizer.cli import main
from optimizer.errors import InvalidInput, StoreError
from optimizer.settings import POOL_OVERFLOW, POSTGRESQL_DECISION_THREADS, Settings, get_settings
from optimizer.store.db import make_engine

PG_URL = "postgresql+psycopg://app:secret@db.internal:5432/optimizer"


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _pool(engine: Engine) -> tuple[int, int]:
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    return pool.size(), pool._max_overflow


def test_sqlite_keeps_one_decision_thread_and_its_pool(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    assert not settings.is_postgresql()
    assert settings.resolved_decision_threads() == 1
    assert settings.resolved_pool() == (None, None)
    engine = make_engine(settings.resolved_database_url(), pool_size=None, max_overflow=None)
    assert _pool(engine) == (20, 30)
    engine.dispose()


@pytest.mark.parametrize("url", [PG_URL, "postgresql://app@db.internal/optimizer"])
def test_postgresql_defaults(url: str, tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, database_url=url)
    assert settings.is_postgresql()
    assert settings.resolved_decision_threads() == POSTGRESQL_DECISION_THREADS == 2
    assert settings.resolved_pool() == (8 + 2, POOL_OVERFLOW)
    wider = Settings(var_dir=tmp_path, database_url=url, server_threads=16)
    assert wider.resolved_pool() == (16 + 2, POOL_OVERFLOW)


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTIMIZER_DATABASE_URL", PG_URL)
    monkeypatch.setenv("OPTIMIZER_DECISION_THREADS", "1")
    assert get_settings().resolved_decision_threads() == 1
    assert get_settings().resolved_pool() == (8 + 1, POOL_OVERFLOW)
    get_settings.cache_clear()
    monkeypatch.setenv("OPTIMIZER_POOL_SIZE", "3")
    monkeypatch.setenv("OPTIMIZER_POOL_MAX_OVERFLOW", "0")
    assert get_settings().resolved_pool() == (3, 0)
    get_settings.cache_clear()
    monkeypatch.delenv("OPTIMIZER_DATABASE_URL")  # the overrides hold on SQLite too
    assert get_settings().resolved_pool() == (3, 0)
    assert get_settings().resolved_decision_threads() == 1


def test_make_engine_takes_the_sizes_on_both_backends(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path / 'a.db'}", PG_URL):  # no connection is opened
        engine = make_engine(url, pool_size=3, max_overflow=1)
        assert _pool(engine) == (3, 1)
        engine.dispose()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("OPTIMIZER_POOL_SIZE", "-1", "greater than or equal to 1"),
        ("OPTIMIZER_POOL_SIZE", "0", "greater than or equal to 1"),
        ("OPTIMIZER_POOL_MAX_OVERFLOW", "-2", "greater than or equal to 0"),
        ("OPTIMIZER_POOL_SIZE", "many", "valid integer"),
    ],
)
def test_bad_pool_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInput, match=name):
        get_settings()
    get_settings.cache_clear()
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: setting {name}={value!r}: ") and expected in err[0]


@pytest.mark.parametrize(("pool_size", "max_overflow"), [(-1, None), (0, 2), (4, -1)])
def test_make_engine_refuses_negative_sizes(
    pool_size: int, max_overflow: int | None, tmp_path: Path
) -> None:
    with pytest.raises(StoreError, match="expected an integer >="):
        make_engine(
            f"sqlite:///{tmp_path / 'a.db'}", pool_size=pool_size, max_overflow=max_overflow
        )


@pytest.mark.postgres
def test_the_server_uses_the_postgresql_defaults(
    pg_url: str, mlflow_uri: str, tmp_path: Path
) -> None:
    """The app's store engine has the resolved pool (one engine: PostgreSQL has no writing
    mode to keep apart) and its decisions run on two threads."""
    settings = Settings(
        var_dir=tmp_path / "var",
        database_url=pg_url,
        mlflow_tracking_uri=mlflow_uri,
        server_threads=6,
    )
    with TestClient(create_app(settings)) as client:
        state = client.app.state.optimizer  # type: ignore[attr-defined]
        assert _pool(state.engine) == (6 + 2, POOL_OVERFLOW)
        assert state.write_engine is state.engine
        assert state.decision_limiter.total_tokens == 2
        assert client.get("/healthz").status_code == 200


def test_the_server_on_sqlite_is_as_before(mlflow_uri: str, tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", mlflow_tracking_uri=mlflow_uri)
    with TestClient(create_app(settings)) as client:
        state = client.app.state.optimizer  # type: ignore[attr-defined]
        assert _pool(state.engine) == (20, 30) and _pool(state.write_engine) == (20, 30)
        assert state.write_engine is not state.engine
        assert state.decision_limiter.total_tokens == 1
