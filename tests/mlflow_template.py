"""A migrated MLflow SQLite store made once per test session and copied for each test.

Creating an MLflow store runs its migrations (seconds); copying a migrated file is instant.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mlflow import MlflowClient


def migrated_store(directory: Path) -> Path:
    path = directory / "mlflow-template.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


def copy_store(template: Path, directory: Path) -> str:
    target = directory / "mlflow.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"
