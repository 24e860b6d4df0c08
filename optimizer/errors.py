"""Error types shared across the service.

Every error names the value it refused and what was expected, so that the CLI can print it as
one line and the API can return it as JSON without a traceback.
"""

from __future__ import annotations


class OptimizerError(Exception):
    """Base class of every error the service raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(OptimizerError):
    """A value from outside (CLI argument, HTTP body, file) is not what was expected."""

    code = "invalid_input"


class NotFound(OptimizerError):
    code = "not_found"


class Conflict(OptimizerError):
    code = "conflict"


class StoreError(OptimizerError):
    """The database cannot be used: bad URL, unreachable, or at an unknown schema."""

    code = "store_error"
