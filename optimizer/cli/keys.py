"""``optimizer keys create``: make an API key and print it once."""

from __future__ import annotations

import datetime as dt

import typer

from optimizer.cli.app import keys_app
from optimizer.cli.common import settings
from optimizer.service.keys import SCOPES, create_key
from optimizer.store.db import make_engine, require_head, session_factory, transaction, upgrade


@keys_app.command("create")
def keys_create(
    scope: list[str] = typer.Option(
        ..., "--scope", help=f"Scope of the key ({', '.join(SCOPES)}); repeat for several."
    ),
    name: str = typer.Option("default", "--name", help="A name to recognise the key by."),
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    engine = make_engine(settings().resolved_database_url())
    try:
        upgrade(engine)
        require_head(engine)
        with transaction(session_factory(engine)) as session:
            key = create_key(session, scopes=scope, name=name, now=dt.datetime.now(dt.UTC))
    finally:
        engine.dispose()
    typer.echo(key.plaintext)
    typer.echo(
        f"key {key.id} '{key.name}' scopes={','.join(key.scopes)} (shown once: store it now)",
        err=True,
    )
