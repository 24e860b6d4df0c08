"""Fixtures: a fast ``mlflow_uri`` (a copy of one migrated store) and settings that use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.settings import Settings
from tests.training.mlflow_template import copy_store, migrated_store


@pytest.fixture(scope="session")
def _mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_store(tmp_path_factory.mktemp("mlflow-template"))


@pytest.fixture
def mlflow_uri(tmp_path: Path, _mlflow_template: Path) -> str:
    return copy_store(_mlflow_template, tmp_path)


@pytest.fixture
def ml_settings(settings: Settings, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose MLflow store is ``mlflow_uri``; the CLI (get_settings) sees the same."""
    from optimizer.settings import get_settings

    monkeypatch.setenv("OPTIMIZER_MLFLOW_TRACKING_URI", mlflow_uri)
    get_settings.cache_clear()
    return settings.model_copy(update={"mlflow_tracking_uri": mlflow_uri})
