"""kill -9 of a real server during concurrent ingest writes loses no acknowledged write."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.crash_safety import run_crash, server_env
from optimizer.settings import Settings
from tests.api.conftest import make_keys


@pytest.mark.slow
def test_kill_9_during_ingest_loses_no_acknowledged_write(tmp_path: Path, mlflow_uri: str) -> None:
    """One real server process (``optimizer serve``), 3 writer threads for 2 s, SIGKILL; the
    store is then opened as the server's start-up opens it (recovery, migrations) and read."""
    env = server_env(tmp_path)
    assert env["OPTIMIZER_MLFLOW_TRACKING_URI"] == mlflow_uri  # the migrated copy: no seconds lost
    settings = Settings(var_dir=tmp_path, database_url=env["OPTIMIZER_DATABASE_URL"])
    key = make_keys(settings)["admin"]
    (result,) = run_crash(
        tmp_path, clients=3, load_seconds=2.0, rounds=1, restart=False, key=key, say=lambda _: None
    )
    assert result.acknowledged_leads > 0 and result.acknowledged_events > 0
    assert result.acknowledged_opt_outs > 0
    assert result.missing == 0
    assert result.opt_outs_not_suppressed == 0
    assert result.integrity == "ok"
