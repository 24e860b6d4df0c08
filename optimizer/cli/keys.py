"""``optimizer keys create|list|revoke``: API keys (a new key is printed once, never again)."""

from __future__ import annotations

import datetime as dt

import typer

from optimizer.cli.app import keys_app
from optimizer.cli.common import emit_json, settings
from optimizer.ingest.keys import SCOPES, create_key, key_summary, list_keys, revoke_key
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


@keys_app.command("list")
def keys_list() -> None:
    """List the API keys (id, name, scopes, created, revoked); never the key or its hash."""
    engine = make_engine(settings().resolved_database_url())
    try:
        upgrade(engine)
        with session_factory(engine)() as session:
            rows = [key_summary(row) for row in list_keys(session)]
    finally:
        engine.dispose()
    typer.echo(f"{'id':>5}  {'name':<24} {'scopes':<24} {'created (UTC)':<20} revoked (UTC)")
    for row in rows:
        created = str(row["created_at"])[:19].replace("T", " ")
        revoked = str(row["revoked_at"])[:19].replace("T", " ") if row["revoked_at"] else "—"
        scopes = ",".join(str(s) for s in row["scopes"])  # type: ignore[attr-defined]
        typer.echo(
            f"{row['id']:>5}  {str(row['name'])[:24]:<24} {scopes:<24} {created:<20} {revoked}"
        )
    emit_json({"keys": rows, "active": sum(1 for r in rows if r["revoked_at"] is None)})


@keys_app.command("revoke")
def keys_revoke(
    key: str = typer.Argument(..., help="The key's id, or its name (when no other key has it)."),
) -> None:
    """Revoke an API key and end its UI sessions. Servers drop a cached verification of it
    within OPTIMIZER_KEY_CACHE_SECONDS (POST /v1/keys/{id}/revoke drops it at once in the
    serving process)."""
    engine = make_engine(settings().resolved_database_url())
    try:
        upgrade(engine)
        with transaction(session_factory(engine)) as session:
            row = key_summary(revoke_key(session, key, now=dt.datetime.now(dt.UTC)))
    finally:
        engine.dispose()
    typer.echo(f"key {row['id']} '{row['name']}' revoked at {row['revoked_at']}")
    emit_json({"revoked": row})
