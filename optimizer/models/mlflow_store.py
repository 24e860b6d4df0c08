"""Preparing the MLflow tracking and registry store, one process at a time.

Creating or upgrading an MLflow SQL store runs MLflow's own Alembic migrations; two processes
doing that at once on one fresh file corrupt it (``table _alembic_tmp_... already exists``,
``Online migration expected to match one row``). Every place that opens the store (the
server's start-up, training, loading a model) goes through :func:`ensure_store`, which holds an
inter-process file lock beside the store while MLflow initialises it, once per process and URI.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path

from filelock import FileLock
from sqlalchemy.engine import make_url

from optimizer.errors import StoreError

# How long a process waits for another one to finish preparing the store.
LOCK_TIMEOUT_SECONDS = 300.0

_ready: set[str] = set()
_guard = threading.Lock()


def lock_path(tracking_uri: str) -> Path:
    """The lock file for ``tracking_uri``: beside a SQLite store's file, else in the temp dir
    (named by the URI's hash)."""
    if tracking_uri.startswith("sqlite:"):
        database = make_url(tracking_uri).database
        if database and database != ":memory:":
            path = Path(database)
            return path.with_name(path.name + ".lock")
    digest = hashlib.sha256(tracking_uri.encode("utf-8")).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"optimizer-mlflow-{digest}.lock"


def is_sql_store(tracking_uri: str) -> bool:
    return "://" in tracking_uri and tracking_uri.split(":", 1)[0].split("+", 1)[0] in (
        "sqlite",
        "postgresql",
        "mysql",
        "mssql",
    )


def ensure_store(tracking_uri: str) -> None:
    """Create or upgrade the MLflow store at ``tracking_uri`` (tracking and registry tables)
    under the store's file lock; a no-op after the first success in this process. Raises
    :class:`StoreError` naming the URI when the store cannot be prepared."""
    if tracking_uri in _ready or not is_sql_store(tracking_uri):
        return
    with _guard:
        if tracking_uri in _ready:
            return
        from mlflow import MlflowClient

        path = lock_path(tracking_uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(path), timeout=LOCK_TIMEOUT_SECONDS):
                client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
                client.search_experiments(max_results=1)
                client.search_registered_models(max_results=1)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"MLflow store {tracking_uri!r} cannot be prepared: {first}") from exc
        _ready.add(tracking_uri)


def artifact_location(tracking_uri: str, local_root: str) -> str | None:
    """Where a new experiment keeps its artifacts: ``local_root`` for a store on this machine
    (a database URL or a path); None, the server's own artifact store, for an MLflow server
    (``http(s)://``), so that every client writes through it and reads what the others wrote."""
    if tracking_uri.split(":", 1)[0].lower() in ("http", "https", "databricks"):
        return None
    return local_root


def forget(tracking_uri: str | None = None) -> None:
    """Let :func:`ensure_store` check ``tracking_uri`` (or every store) again."""
    with _guard:
        if tracking_uri is None:
            _ready.clear()
        else:
            _ready.discard(tracking_uri)
