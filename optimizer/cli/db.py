"""``optimizer db ...``: create or upgrade the store's schema."""

from __future__ import annotations

import typer

from optimizer.cli.app import db_app
from optimizer.cli.common import settings
from optimizer.store.db import check_schema_known, head_revision, make_engine, upgrade


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database or upgrade it to the newest schema (a no-op when already there), and
    create or upgrade the MLflow tracking store beside it."""
    from optimizer.models.mlflow_store import ensure_store

    url = settings().resolved_database_url()
    engine = make_engine(url)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        typer.echo(f"{where}: already at schema {after} (nothing to do)")
    else:
        typer.echo(f"{where}: schema {before or 'empty'} -> {after}")
    mlflow_uri = settings().resolved_mlflow_uri()
    ensure_store(mlflow_uri)
    typer.echo(f"MLflow store {mlflow_uri}: ready")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision the database is at, and the newest one this code knows."""
    engine = make_engine(settings().resolved_database_url(), create_dirs=False)
    try:
        revision = check_schema_known(engine)
    finally:
        engine.dispose()
    typer.echo(f"current: {revision or 'empty'}  head: {head_revision()}")
