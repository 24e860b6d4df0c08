"""The live-server fixtures of the API tests, shared with the reliability tests."""

from tests.api.conftest import live_server, live_settings, shared_mlflow_uri

__all__ = ["live_server", "live_settings", "shared_mlflow_uri"]
