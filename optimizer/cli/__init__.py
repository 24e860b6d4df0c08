"""Entry point of the ``optimizer`` command."""

from __future__ import annotations

import importlib
import sys

from optimizer.cli.app import app
from optimizer.errors import OptimizerError

# Each module registers its commands on the groups of optimizer.cli.app when imported.
_COMMAND_MODULES = (
    "db",
    "serve",
    "keys",
    "compliance",
    "lead_score",
    "bandits",
    "simulate",
    "send_time",
    "demo",
    "ope",
    "uplift",
    "tune",
)


def _load_commands() -> None:
    for name in _COMMAND_MODULES:
        try:
            importlib.import_module(f"optimizer.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"optimizer.cli.{name}":
                raise


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; expected errors become one line on stderr and exit code 2."""
    _load_commands()
    try:
        app(args=argv, prog_name="optimizer", standalone_mode=True)
    except OptimizerError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
