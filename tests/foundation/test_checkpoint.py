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


def test_checkpoint_opens_no_transaction_so_writers_never_wait_for_it(tmp_path: Path) -> None:
    from sqlalchemy import event

    url = f"sqlite:///{tmp_path / 'wal.db'}"
    writer = make_engine(url, immediate=True, autocheckpoint=False)
    _write_rows(writer, 50)
    begun: list[object] = []
    event.listen(writer, "begin", begun.append)
    checkpoint(writer)  # a BEGIN IMMEDIATE here would hold the write lock throughout
    assert begun == []
    # While another connection holds the write lock, a checkpoint still returns at once.
    with writer.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (randomblob(10))"))
        frames, copied = checkpoint(writer)  # type: ignore[misc]
        assert frames >= copied >= 0
    writer.dispose()
