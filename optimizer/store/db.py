"""Engine, sessions and schema migrations of the store.

SQLite (the embedded default) runs in WAL mode with foreign keys on; PostgreSQL is the shared
store at scale. The schema changes only through the Alembic migrations in ``migrations/``.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Executable,
    Insert,
    Select,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import IntegrityError as IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from optimizer.errors import StoreError

# The store's handles as the code above it names them, so that nothing outside the store
# imports SQLAlchemy: a unit of work (``Session``), what opens one (``SessionFactory``), the
# connection pool (``Engine``), and the error a broken constraint raises (``IntegrityError``).
SessionFactory = sessionmaker[Session]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# The server's SQLite write-ahead log: once a checkpoint resets it, a connection truncates the
# file back to this size (SQLite otherwise keeps it at its largest); and when it holds this
# many frames (pages, 4 KiB each) after the periodic passive checkpoint, the same step tries a
# truncating one, waiting at most TRUNCATE_BUSY_MS for readers and writers to make way.
WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024
TRUNCATE_AT_FRAMES = 1024
TRUNCATE_BUSY_MS = 100
BUSY_TIMEOUT_MS = 30000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is turned off so that SQLAlchemy's "begin" below
    # decides how a transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
    cursor.close()


def make_engine(
    url: str,
    *,
    create_dirs: bool = True,
    immediate: bool = False,
    autocheckpoint: bool = True,
    pool_size: int | None = None,
    max_overflow: int | None = None,
) -> Engine:
    """Create an engine for ``url``; malformed URLs raise :class:`StoreError` naming the URL.

    ``pool_size`` and ``max_overflow``: the connections the engine keeps open and how many more
    it may open at a peak (the server passes :meth:`Settings.resolved_pool
    <optimizer.settings.Settings.resolved_pool>`); unset, 20 and 30 on SQLite and SQLAlchemy's
    5 and 10 on PostgreSQL. A pool size below 1 or a negative overflow is refused with
    :class:`StoreError`.

    ``immediate`` (SQLite): transactions take the write lock when they begin, so a unit of work
    that reads and then writes waits its turn instead of failing; use it for short writing
    transactions, and a plain engine for reads and long computations.

    ``autocheckpoint=False`` (SQLite): a commit never copies the write-ahead log back into the
    database file (SQLite otherwise does so in the commit that fills 1,000 pages, a few
    milliseconds of I/O on the request that happens to make it); whoever makes such an engine
    calls :func:`checkpoint` itself, off the request path. Its connections also cap the log
    file at ``WAL_SIZE_LIMIT_BYTES`` whenever a checkpoint resets it (``journal_size_limit``).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"database URL {url!r} is malformed (expected e.g. sqlite:///var/optimizer.db "
            "or postgresql+psycopg://user:pass@host/db)"
        ) from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(
            f"database URL {url!r}: backend {backend!r} (sqlite or postgresql expected)"
        )
    for name, value, least in (("pool_size", pool_size, 1), ("max_overflow", max_overflow, 0)):
        if value is not None and value < least:
            raise StoreError(f"{name}={value}: expected an integer >= {least}")
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and create_dirs:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        # The server runs request handlers on a thread pool (40 threads): give each a connection
        # rather than have it time out waiting for one of the default 5 + 10.
        kwargs["pool_size"] = 20
        kwargs["max_overflow"] = 30
    else:
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 5}
    if pool_size is not None:
        kwargs["pool_size"] = pool_size
    if max_overflow is not None:
        kwargs["max_overflow"] = max_overflow
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"database URL {url!r} cannot be used: {exc}") from exc
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        if not autocheckpoint:
            event.listen(engine, "connect", _no_autocheckpoint)
        event.listen(engine, "begin", _sqlite_begin_immediate if immediate else _sqlite_begin)
    return engine


def _sqlite_begin(conn: Any) -> None:
    """A deferred BEGIN (takes no lock, never waits) on the driver's connection: SQLAlchemy's
    execution path would cost as much again as the statement, on every request."""
    raw = conn.connection.driver_connection
    try:
        raw.execute("BEGIN").close()
    except sqlite3.Error:
        conn.exec_driver_sql("BEGIN")  # raises SQLAlchemy's own error for it


def _sqlite_begin_immediate(conn: Any) -> None:
    """Take SQLite's write lock when a transaction starts, not on its first write.

    A deferred transaction that reads and then writes cannot wait for another writer (SQLite
    answers "database is locked" at once); an immediate one waits up to busy_timeout. Several
    server workers share one database file, so writing units of work start immediate.
    """
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def checkpoint(engine: Engine) -> tuple[int, int] | None:
    """Copy what SQLite's write-ahead log holds back into the database file without waiting for
    readers or writers (a passive checkpoint); (frames in the log, frames copied), or None for
    a backend without one."""
    if engine.dialect.name != "sqlite":
        return None
    # On the driver connection itself, in autocommit: through SQLAlchemy the engine's "begin"
    # hook would open a transaction first (BEGIN IMMEDIATE on a writing engine, which would hold
    # the write lock, and so every writer, for the whole checkpoint).
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        row = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        cursor.close()
    finally:
        raw.close()
    return int(row[1]), int(row[2])


def truncate_wal(
    engine: Engine, *, busy_ms: int = TRUNCATE_BUSY_MS
) -> tuple[bool, int, int] | None:
    """Checkpoint SQLite's write-ahead log completely and truncate its file to zero bytes, if
    readers and writers make way within ``busy_ms``; (done, frames in the log, frames copied),
    or None for a backend without one.

    While it waits, SQLite holds new writers back (a truncating checkpoint blocks them while it
    is pending), so the wait is short: a log a reader still needs is left for the next round,
    and the passive checkpoints meanwhile copy what they can.
    """
    if engine.dialect.name != "sqlite":
        return None
    raw = engine.raw_connection()  # in autocommit, as in :func:`checkpoint`
    try:
        cursor = raw.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        try:
            row = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            # The connection goes back to the pool: restore the wait every other use expects.
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.close()
    finally:
        raw.close()
    return int(row[0]) == 0, int(row[1]), int(row[2])


@dataclass(frozen=True)
class CheckpointRound:
    """What one periodic round did: the passive checkpoint's (frames, copied), and whether a
    truncating one was tried and finished."""

    frames: int
    copied: int
    truncate_tried: bool = False
    truncated: bool = False


def checkpoint_round(
    engine: Engine,
    *,
    writer_turn: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
    truncate_at_frames: int = TRUNCATE_AT_FRAMES,
    busy_ms: int = TRUNCATE_BUSY_MS,
) -> CheckpointRound | None:
    """The server's periodic step: a passive checkpoint, and when the log still holds
    ``truncate_at_frames`` or more frames, a truncating one (:func:`truncate_wal`) taken in
    ``writer_turn`` (the app's queue of writers, so that none of this process's writers is
    mid-transaction while it runs and each waits at most its short busy wait). None elsewhere.

    A passive checkpoint alone cannot bound the file: under steady writes with overlapping
    readers the log is never reset, and a file once grown is never made smaller."""
    passive = checkpoint(engine)
    if passive is None:
        return None
    frames, copied = passive
    if frames < truncate_at_frames:
        return CheckpointRound(frames, copied)
    with writer_turn():
        done = truncate_wal(engine, busy_ms=busy_ms)
    assert done is not None
    return CheckpointRound(frames, copied, truncate_tried=True, truncated=done[0])


def ping(engine: Engine) -> None:
    """Ask the database a trivial query on a connection of its own; raises if it does not
    answer (readiness and health checks)."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def core_execute(
    session: Session,
    statement: Executable,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> CursorResult[*tuple[Any, ...]]:
    """Run a Core statement (a ``select`` of columns, not of mapped entities; an ``insert`` into
    a table, with one row's values or a list of rows) on the session's connection, in its
    transaction, without the ORM's execution layer (its per-statement context and result
    wrapping cost about as much again as the query on the hot paths).

    What ``session.execute`` would do first is kept: pending changes are flushed (autoflush),
    so the statement sees everything the session has added."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    connection = _connection_of(session)
    if params is None or isinstance(params, Mapping):
        fast = _fast_select(statement, connection.dialect)
        if fast is not None:
            return fast.run(connection, params or {})  # type: ignore[return-value]
    return connection.execute(statement, params)


def core_insert_one(session: Session, statement: Insert, row: Mapping[str, Any]) -> None:
    """Insert one row with a Core ``insert`` of a table (no RETURNING, nothing read back): on
    SQLite with SQLAlchemy's compiled SQL and bind processors on the driver's cursor (about a
    third of ``connection.execute``'s cost for the decision log's wide row), elsewhere, or when
    the table has Python-side defaults for columns not given, through SQLAlchemy. A statement
    the database refuses (a constraint, an append-only trigger) is run again through
    SQLAlchemy, so that the caller sees SQLAlchemy's own exception (SQLite undoes a failed
    statement and keeps the transaction)."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    connection = _connection_of(session)
    fast = _fast_insert(statement, tuple(row), connection.dialect)
    if fast is not None:
        try:
            fast.run(connection, row)
            return
        except sqlite3.Error:
            pass  # SQLAlchemy's execution below raises its own exception for this row
    connection.execute(statement, dict(row))


class _FastInsert:
    """One-row ``insert`` on SQLite's own cursor (see :func:`core_insert_one`)."""

    def __init__(self, compiled: Any, dialect: Any) -> None:
        self.compiled = compiled
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())
        binds = compiled.binds
        self.bind = tuple(binds[name].type._cached_bind_processor(dialect) for name in self.names)

    def run(self, connection: Connection, row: Mapping[str, Any]) -> None:
        values = self.compiled.construct_params(row, _check=True)
        args = [
            values[name] if proc is None else proc(values[name])
            for name, proc in zip(self.names, self.bind, strict=True)
        ]
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute(self.sql, args).close()


_FAST_INSERTS: dict[tuple[int, tuple[str, ...]], tuple[Insert, _FastInsert | None]] = {}


def _fast_insert(statement: Insert, keys: tuple[str, ...], dialect: Any) -> _FastInsert | None:
    if dialect.name != "sqlite" or not FAST_ENABLED[0]:
        return None
    hit = _FAST_INSERTS.get((id(statement), keys))
    if hit is not None and hit[0] is statement:
        return hit[1]
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    fast: _FastInsert | None = None
    if (
        compiled.positional
        and not compiled.insert_prefetch  # Python-side defaults: SQLAlchemy evaluates them
        and not compiled.returning
        and not compiled.post_compile_params
        and not any(b.expanding or b.literal_execute for b in compiled.binds.values())
        and set(compiled.positiontup or ()) <= set(keys)
    ):
        fast = _FastInsert(compiled, dialect)
    with _FAST_LOCK:
        if len(_FAST_INSERTS) > 128:
            _FAST_INSERTS.clear()
        _FAST_INSERTS[(id(statement), keys)] = (statement, fast)
    return fast


class FastRows(list[Any]):
    """The rows of a :class:`_FastSelect` (what the callers of ``core_execute`` use of a
    ``CursorResult``: iteration, ``first()`` and ``all()``)."""

    def first(self) -> Any:
        return self[0] if self else None

    def all(self) -> list[Any]:
        return list(self)


class _FastSelect:
    """A ``select`` of columns run on SQLite's own cursor, with SQLAlchemy's compiled SQL and its
    bind and result processors (the same values, types and row fields as ``connection.execute``
    gives), without its execution context and result machinery: a fifth of the cost for the
    decision's one-row reads, and half for its event rows. Rows are named tuples with the
    select's labels as fields and ``_mapping`` (a dict) as on SQLAlchemy's rows."""

    def __init__(self, compiled: Any, dialect: Any) -> None:
        self.compiled = compiled
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())
        binds = compiled.binds
        self.bind = tuple(binds[name].type._cached_bind_processor(dialect) for name in self.names)
        columns = compiled._result_columns
        fields = [c.keyname for c in columns]
        # (index, processor) of the columns that have one; UTC datetimes parsed by
        # ``_utc_from_sqlite`` (what SQLAlchemy's SQLite DATETIME and UTCDateTime give).
        from optimizer.store.models import UTCDateTime

        self.procs = tuple(
            (i, _utc_from_sqlite(proc) if isinstance(c.type, UTCDateTime) else proc)
            for i, (c, proc) in enumerate(
                (c, c.type._cached_result_processor(dialect, None)) for c in columns
            )
            if proc is not None
        )
        self.row = _row_type(tuple(fields))

    def run(self, connection: Connection, params: Mapping[str, Any]) -> FastRows:
        values = self.compiled.construct_params(params, _check=True)
        args = [
            values[name] if proc is None else proc(values[name])
            for name, proc in zip(self.names, self.bind, strict=True)
        ]
        raw = connection.connection.driver_connection
        assert raw is not None
        cursor = raw.execute(self.sql, args)
        try:
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        make = self.row._make
        if not self.procs:
            return FastRows(make(r) for r in fetched)
        procs = self.procs
        out = FastRows()
        for r in fetched:
            values_ = list(r)
            for i, proc in procs:
                v = values_[i]
                if v is not None:
                    values_[i] = proc(v)
            out.append(make(values_))
        return out


def _utc_from_sqlite(fallback: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLite's stored ``YYYY-MM-DD HH:MM:SS.ffffff`` text as an aware UTC datetime (C parser);
    anything else it stores goes through SQLAlchemy's own processor."""
    fromiso, utc = dt.datetime.fromisoformat, dt.UTC

    def parse(value: Any) -> Any:
        if isinstance(value, str) and len(value) == 26 and value[10] == " ":
            return fromiso(value).replace(tzinfo=utc)
        return fallback(value)

    return parse


@functools.lru_cache(maxsize=64)
def _row_type(fields: tuple[str, ...]) -> Any:
    base = collections.namedtuple("FastRow", fields)  # type: ignore[misc]

    class FastRow(base):  # type: ignore[valid-type,misc]
        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return dict(zip(self._fields, self, strict=True))

    return FastRow


# Per statement object (held, so that its id is not reused): its fast form, or None when the
# statement is not one (not a select on SQLite, expanding IN parameters, repeated or
# unnamed columns).
_FAST: dict[int, tuple[Executable, _FastSelect | None]] = {}
_FAST_LOCK = threading.Lock()
# Switch for tests and side-by-side measurements (one process, same data): False = always SQLAlchemy.
FAST_ENABLED = [True]


def _fast_select(statement: Executable, dialect: Any) -> _FastSelect | None:
    if dialect.name != "sqlite" or not FAST_ENABLED[0]:
        return None
    hit = _FAST.get(id(statement))
    if hit is not None and hit[0] is statement:
        return hit[1]
    fast: _FastSelect | None = None
    if isinstance(statement, Select):
        compiled = statement.compile(dialect=dialect)
        fields = [c.keyname for c in compiled._result_columns]
        if (
            compiled.positional
            and not any(b.expanding or b.literal_execute for b in compiled.binds.values())
            and fields
            and len(set(fields)) == len(fields)
            and all(
                isinstance(f, str) and f.isidentifier() and not f.startswith("_") for f in fields
            )
            and not compiled.post_compile_params
        ):
            fast = _FastSelect(compiled, dialect)
    with _FAST_LOCK:
        if len(_FAST) > 512:
            _FAST.clear()
        _FAST[id(statement)] = (statement, fast)
    return fast


def _connection_of(session: Session) -> Connection:
    """``session.connection()``, kept for the session's current transaction: each call of it
    walks the session's transaction state machine (about a fifth of a Core read on the
    decision's path). A new transaction (after a commit or rollback) gets its own connection."""
    transaction = session.get_transaction()
    cached = session.info.get(_CONNECTION_KEY)
    if transaction is not None and cached is not None and cached[0] is transaction:
        connection: Connection = cached[1]
        if not connection.closed and connection.in_transaction():
            return connection
    connection = session.connection()
    session.info[_CONNECTION_KEY] = (session.get_transaction(), connection)
    return connection


_CONNECTION_KEY = "optimizer.store.connection"


@contextlib.contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


@functools.cache
def head_revision() -> str:
    """The newest revision of the migrations shipped with this code (read once)."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (``None`` for an empty database)."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise StoreError(
            f"database {engine.url.render_as_string(hide_password=True)!r} "
            f"cannot be reached: {_first_line(exc)}"
        ) from exc
    except SQLAlchemyError as exc:
        raise StoreError(
            f"database {engine.url.render_as_string(hide_password=True)!r}: {_first_line(exc)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def check_schema_known(engine: Engine) -> str | None:
    """Refuse a database migrated by a newer version of the code (an unknown revision)."""
    revision = current_revision(engine)
    if revision is None:
        return None
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    known = {rev.revision for rev in script.walk_revisions()}
    if revision not in known:
        raise StoreError(
            f"database is at schema revision {revision!r}, which this version of the code does "
            f"not know (newest known: {head_revision()!r}); upgrade the code, not the database"
        )
    return revision


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Upgrade the database to head. Returns (revision before, revision after)."""
    with _migration_lock(engine):
        before = check_schema_known(engine)
        try:
            command.upgrade(_alembic_config(engine), "head")
        except OperationalError as exc:
            raise StoreError(
                f"database {engine.url.render_as_string(hide_password=True)!r} "
                f"cannot be migrated: {_first_line(exc)}"
            ) from exc
    return before, head_revision()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """One migrating process at a time: a file lock beside a SQLite store (several servers
    started at once on a fresh store would otherwise all create its tables); PostgreSQL takes
    an advisory lock inside the migration's transaction (``migrations/env.py``)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    from filelock import FileLock

    path = Path(database)
    with FileLock(str(path.with_name(path.name + ".lock")), timeout=300):
        yield


def require_head(engine: Engine) -> str:
    revision = check_schema_known(engine)
    if revision != head_revision():
        raise StoreError(
            f"database is at schema revision {revision!r}, head is {head_revision()!r}: "
            "run 'optimizer db upgrade'"
        )
    return revision
