"""``optimizer serve``: run the HTTP API (migrating the store first)."""

from __future__ import annotations

import typer

from optimizer.cli.app import app
from optimizer.cli.common import settings
from optimizer.errors import OptimizerError
from optimizer.store.db import make_engine, upgrade


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, max=64, help="Number of uvicorn worker processes."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the API (OpenAPI docs at /docs); runs 'db upgrade' (the store and the MLflow
    store) before it starts."""
    import uvicorn

    from optimizer.models.mlflow_store import ensure_store

    engine = make_engine(settings().resolved_database_url())
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    try:
        ensure_store(settings().resolved_mlflow_uri())
    except OptimizerError as exc:  # the server still starts: the baselines answer
        typer.echo(f"warning: {exc.message}", err=True)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )
