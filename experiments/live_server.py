"""A real ``optimizer serve`` process on loopback, on a store of its own, for reliability runs.

The server is the product's own command (migrations, uvicorn, the given number of workers),
started as a subprocess so that it can be killed like any other process; keys are created in
the store before it starts.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.orm import Session

from optimizer.compliance.dnc import import_dnc, parse_dnc_text
from optimizer.ingest.keys import create_key
from optimizer.store.db import make_engine, session_factory, transaction, upgrade

SCOPES = ("admin", "decide", "ingest", "read")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """One running server; ``stop()`` ends it gently, ``kill()`` with SIGKILL."""

    base_url: str
    database_url: str
    keys: dict[str, str]
    env: dict[str, str]
    workers: int
    log_path: Path
    ready_path: str = "/healthz"
    log_level: str = "warning"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def client(self, scope: str = "admin", *, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.keys[scope]}"},
            timeout=timeout,
        )

    def start(self, *, ready_timeout: float = 90.0) -> float:
        """Start the server (again, after ``kill()``: on the same store) and wait until
        ``ready_path`` answers 200; the seconds that took."""
        started = time.monotonic()
        port = self.base_url.rsplit(":", 1)[1]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "optimizer.cli",
                "serve",
                "--port",
                port,
                "--workers",
                str(self.workers),
                "--log-level",
                self.log_level,
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                if httpx.get(f"{self.base_url}{self.ready_path}", timeout=5).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"the server was not ready in {ready_timeout:.0f} s; see {self.log_path}"
        )

    def _signal(self, sig: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            return

    def stop(self, timeout: float = 30.0) -> None:
        self._signal(signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the server and all its workers at once (no shutdown code runs)."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)


# The harness's national DNC registry copies: one on the first of every month from here to the
# server's day, listing no number (the harnesses decide at simulated times in that range).
FIRST_REGISTRY_COPY = dt.date(2024, 1, 1)


def import_registry_copies(session: Session, *, until: dt.date) -> None:
    """Empty national DNC registry copies, monthly from ``FIRST_REGISTRY_COPY`` to ``until``
    (without one the gate denies every marketing send with ``dnc.registry_missing``)."""
    day = FIRST_REGISTRY_COPY
    while day <= until:
        import_dnc(
            session,
            parsed=parse_dnc_text(""),
            registry="national",
            as_of=day,
            now=dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC),
            source_name="harness-national",
        )
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def make_keys(database_url: str, now: dt.datetime) -> dict[str, str]:
    """A key for every scope, and the harness's DNC registry copies up to ``now``."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with transaction(session_factory(engine)) as session:
            import_registry_copies(session, until=now.date())
            return {
                scope: create_key(
                    session, scopes=[scope], name=f"reliability-{scope}", now=now
                ).plaintext
                for scope in SCOPES
            }
    finally:
        engine.dispose()


def prepare_mlflow(tracking_uri: str) -> None:
    """Create the MLflow store once, before any server process touches it (as ``optimizer db
    upgrade`` does)."""
    from optimizer.models.mlflow_store import ensure_store

    ensure_store(tracking_uri)


def server_env(
    var_dir: Path,
    *,
    database_url: str | None = None,
    mlflow_uri: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a server on ``var_dir``: this process's, without its ``OPTIMIZER_*``
    settings, plus the store (SQLite in ``var_dir`` unless ``database_url``), the MLflow store
    (in ``var_dir`` unless ``mlflow_uri``) and ``extra_env``."""
    url = database_url or f"sqlite:///{(var_dir / 'optimizer.db').as_posix()}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OPTIMIZER_") and key != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update(
        {
            "OPTIMIZER_VAR_DIR": str(var_dir),
            "OPTIMIZER_DATABASE_URL": url,
            "OPTIMIZER_MLFLOW_TRACKING_URI": mlflow_uri
            or f"sqlite:///{(var_dir / 'mlflow.db').as_posix()}",
            "PYTHONPATH": os.pathsep.join(
                [str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH", "")]
            ).rstrip(os.pathsep),
            **(extra_env or {}),
        }
    )
    return env


def prepare_server(
    var_dir: Path,
    *,
    database_url: str | None = None,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    now: dt.datetime | None = None,
    mlflow_uri: str | None = None,
    ready_path: str = "/healthz",
    log_level: str = "warning",
) -> ServerProcess:
    """A server on ``var_dir``, not started yet: the store migrated with a key for every scope,
    the MLflow store created (see :func:`server_env` for where they are)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    env = server_env(var_dir, database_url=database_url, mlflow_uri=mlflow_uri, extra_env=extra_env)
    url = env["OPTIMIZER_DATABASE_URL"]
    keys = make_keys(url, now or dt.datetime.now(dt.UTC))
    prepare_mlflow(env["OPTIMIZER_MLFLOW_TRACKING_URI"])
    return ServerProcess(
        base_url=f"http://127.0.0.1:{free_port()}",
        database_url=url,
        keys=keys,
        env=env,
        workers=workers,
        log_path=var_dir / "server.log",
        ready_path=ready_path,
        log_level=log_level,
    )


@contextmanager
def running_server(
    var_dir: Path,
    *,
    database_url: str | None = None,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    now: dt.datetime | None = None,
    mlflow_uri: str | None = None,
    log_level: str = "warning",
) -> Iterator[ServerProcess]:
    """A server on ``var_dir`` (:func:`prepare_server`), started, and stopped at the end."""
    server = prepare_server(
        var_dir,
        database_url=database_url,
        workers=workers,
        extra_env=extra_env,
        now=now,
        mlflow_uri=mlflow_uri,
        log_level=log_level,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
