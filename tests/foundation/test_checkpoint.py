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


def _wal_bytes(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_the_periodic_round_truncates_a_log_a_reader_let_grow(tmp_path: Path) -> None:
    """A reader holding one snapshot through a burst of writes keeps every passive checkpoint
    from resetting the log (~20 MB of frames here). Once it lets go, one periodic round leaves
    the file empty; passive checkpoints alone leave it at its largest."""
    import time

    from optimizer.store.db import TRUNCATE_AT_FRAMES, checkpoint_round

    db = tmp_path / "wal.db"
    url = f"sqlite:///{db}"
    writer = make_engine(url, immediate=True, autocheckpoint=False)
    reader = make_engine(url, autocheckpoint=False)
    _write_rows(writer, 1)
    with reader.connect() as held:
        held.exec_driver_sql("SELECT count(*) FROM t").all()  # BEGIN: the snapshot is pinned
        for _ in range(5):
            _write_rows(writer, 1000)
            checkpoint(writer)  # what the server does every second meanwhile
        grown = _wal_bytes(db)
        assert grown > 16 * 1024 * 1024
        # While the reader still needs the log, the round gives up within its short wait.
        started = time.monotonic()
        pending = checkpoint_round(writer)
        assert pending is not None and pending.truncate_tried and not pending.truncated
        assert time.monotonic() - started < 2.0
        held.commit()
    done = checkpoint_round(writer)
    assert done is not None and done.frames >= TRUNCATE_AT_FRAMES
    assert done.truncate_tried and done.truncated
    assert _wal_bytes(db) == 0
    # Writes go on as before, into a log that starts again from nothing.
    _write_rows(writer, 10)
    assert 0 < _wal_bytes(db) < 1024 * 1024
    with writer.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 5011
    writer.dispose()
    reader.dispose()


def test_server_connections_cap_the_log_once_a_checkpoint_resets_it(tmp_path: Path) -> None:
    """journal_size_limit: a log grown past 16 MiB is cut back when the next writer restarts it
    after a complete checkpoint (without the limit SQLite keeps the file at its largest)."""
    from optimizer.store.db import WAL_SIZE_LIMIT_BYTES

    db = tmp_path / "wal.db"
    writer = make_engine(f"sqlite:///{db}", immediate=True, autocheckpoint=False)
    with writer.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == WAL_SIZE_LIMIT_BYTES
    _write_rows(writer, 6000)  # ~24 MB of frames, no checkpoint in between
    assert _wal_bytes(db) > WAL_SIZE_LIMIT_BYTES
    checkpoint(writer)  # passive, complete: nobody reads
    _write_rows(writer, 1)  # this writer resets the log and truncates the file to the limit
    assert _wal_bytes(db) <= WAL_SIZE_LIMIT_BYTES
    writer.dispose()
