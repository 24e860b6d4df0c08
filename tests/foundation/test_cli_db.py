"""`optimizer db upgrade`, `serve` and bad database input: one readable line, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from optimizer.cli import main
from optimizer.store.db import head_revision, make_engine, upgrade

OPTIMIZER = [sys.executable, "-m", "optimizer.cli"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "optimizer"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_on_every_group() -> None:
    result = _run(["--help"], {})
    assert result.returncode == 0
    for group in ("db", "serve", "keys", "compliance", "train", "models", "stats", "simulate"):
        assert group in result.stdout


def test_db_upgrade_new_file_then_noop(tmp_path: Path) -> None:
    env = {"OPTIMIZER_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"}
    first = _run(["db", "upgrade"], env)
    assert first.returncode == 0, first.stderr
    assert f"empty -> {head_revision()}" in first.stdout
    second = _run(["db", "upgrade"], env)
    assert second.returncode == 0
    assert "nothing to do" in second.stdout


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("not a url", "malformed"),
        ("mysql://u@h/db", "backend 'mysql'"),
        ("postgresql+psycopg://u:secret@127.0.0.1:1/x", "cannot be reached"),
    ],
)
def test_bad_database_url_one_line_no_traceback(
    url: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    os.environ["OPTIMIZER_DATABASE_URL"] = url
    try:
        code = main(["db", "upgrade"])
    finally:
        del os.environ["OPTIMIZER_DATABASE_URL"]
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "secret" not in err


def test_newer_schema_refused_and_left_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'future.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    before = (tmp_path / "future.db").read_bytes()
    engine.dispose()
    os.environ["OPTIMIZER_DATABASE_URL"] = url
    try:
        code = main(["db", "upgrade"])
    finally:
        del os.environ["OPTIMIZER_DATABASE_URL"]
    err = capsys.readouterr().err
    assert code == 2
    assert "'9999_future'" in err and "does not know" in err
    engine = make_engine(url)
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            == "9999_future"
        )
    engine.dispose()
    assert len(before) > 0


def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_postgres_upgrade_is_idempotent(pg_url: str) -> None:
    engine = make_engine(pg_url)
    assert upgrade(engine) == (None, head_revision())
    assert upgrade(engine) == (head_revision(), head_revision())
    engine.dispose()
