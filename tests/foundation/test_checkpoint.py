"""SQLite write-ahead log: commits on a server engine never checkpoint; ``checkpoint`` does."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from optimizer.store.db import checkpoint, make_engine


def _write_rows(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x BLOB)")
    for _ in range(n):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (randomblob(4000))"))


def test_commits_leave_the_log_to_checkpoint(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    server = make_engine(url, autocheckpoint=False)
    _write_rows(server, 1500)  # ~1,500 pages: past SQLite's automatic threshold of 1,000
    frames, copied = checkpoint(server)  # type: ignore[misc]
    assert frames > 1000 and copied == frames  # nothing had been copied back before
    server.dispose()

    plain = make_engine(url)
    _write_rows(plain, 1500)
    frames, _copied = checkpoint(plain)  # type: ignore[misc]
    assert frames < 1000  # the default engine's commits checkpointed along the way
    plain.dispose()


def test_checkpoint_is_a_no_op_elsewhere() -> None:
    engine = make_engine("postgresql+psycopg://u:p@127.0.0.1:1/db")
    assert checkpoint(engine) is None
