"""``optimizer serve``: run the HTTP API (migrating the store first)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import typer

from optimizer.cli.app import app
from optimizer.cli.common import settings
from optimizer.errors import OptimizerError
from optimizer.store.db import make_engine, upgrade

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WORKER_START_TIMEOUT_S = 120


def prepare_multiprocess_dir(var_dir: Path) -> Path:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` for the worker processes about to start, to an empty
    directory: the operator's (its ``*.db`` files removed: values of an earlier run would be
    added to this one's), else ``var_dir/prometheus-multiproc`` (recreated). Call it before
    the workers start and before this process imports anything that makes a metric."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = var_dir.resolve() / "prometheus-multiproc"
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(path)
    return path


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, max=64, help="Number of uvicorn worker processes."),
    log_level: str = typer.Option(
        "info", help=f"Log level ({', '.join(LOG_LEVELS)}); 'info' logs one line per request."
    ),
    worker_start_timeout: int = typer.Option(
        WORKER_START_TIMEOUT_S,
        min=5,
        max=3600,
        help="Seconds a new worker may take to start (--workers > 1): SIGHUP replaces the "
        "workers one at a time and keeps an old one whose replacement is not ready in this "
        "time; also how long a worker may leave the supervisor's health check unanswered.",
    ),
) -> None:
    """Serve the API (OpenAPI docs at /docs); runs 'db upgrade' (the store and the MLflow
    store) before it starts. Logs go to stderr, one JSON object per line
    (OPTIMIZER_LOG_FORMAT=console for readable lines)."""
    import uvicorn

    from optimizer.logs import logging_config
    from optimizer.models.mlflow_store import ensure_store

    if log_level.lower() not in LOG_LEVELS:
        raise typer.BadParameter(
            f"{log_level!r} is not one of {', '.join(LOG_LEVELS)}", param_hint="--log-level"
        )
    resolved = settings()
    engine = make_engine(resolved.resolved_database_url())
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    if workers > 1 or os.environ.get(MULTIPROC_ENV):
        # Metrics summed over the workers (prometheus_client's multiprocess mode): the
        # directory is set in the environment the workers inherit.
        prepare_multiprocess_dir(resolved.var_dir)
    try:
        ensure_store(resolved.resolved_mlflow_uri())
    except OptimizerError as exc:  # the server still starts: the baselines answer
        typer.echo(f"warning: {exc.message}", err=True)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.lower(),
        # Every process (each worker too) logs through structlog's formatter; the app writes
        # one line per request itself, so uvicorn's access log is off.
        log_config=logging_config(resolved.log_format, log_level),
        access_log=False,
        # uvicorn's default (5 s) is shorter than a worker's start (imports, models, the
        # gate's caches): every SIGHUP restart would be aborted, keeping the old champions.
        timeout_worker_healthcheck=worker_start_timeout,
    )
