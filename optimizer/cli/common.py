"""Helpers shared by CLI commands: one-line errors, JSON last lines, opening the store."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer

from optimizer.settings import Settings, get_settings


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one readable line to stderr and exit non-zero."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def emit_json(payload: Any) -> None:
    """Print ``payload`` as one JSON object on its own (last) line of stdout."""
    sys.stdout.flush()
    typer.echo(json.dumps(payload, default=_json_default, sort_keys=True))


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def settings() -> Settings:
    return get_settings()
