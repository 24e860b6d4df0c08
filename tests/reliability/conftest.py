"""The live-server fixtures of the API tests, shared with the reliability tests (on SQLite and
on PostgreSQL, as there)."""

from tests.api.conftest import (
    live_database,
    live_server,
    live_settings,
    pg_api_template,
    shared_mlflow_uri,
)

__all__ = ["live_database", "live_server", "live_settings", "pg_api_template", "shared_mlflow_uri"]
