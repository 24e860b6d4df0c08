"""The same outcome events (replies, clicks, purchases with values, STOPs) posted by 20 clients
at once, each client all of them, against a real ``optimizer serve``: every post 2xx, each event
stored once, each reward once, and every arm's statistics exactly what one posting gives.

The full run is ``python -m experiments.reliability replay``."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.live_server import running_server
from experiments.reliability_replay import run_replay
from experiments.reliability_writers import SIMULATION_ENV


def test_replayed_events_are_stored_and_counted_once_sqlite(
    tmp_path: Path, mlflow_uri: str
) -> None:
    with running_server(
        tmp_path / "var", extra_env=SIMULATION_ENV, mlflow_uri=mlflow_uri
    ) as server:
        result = run_replay(server, leads=45, clients=20, batch=10, seed=1, timeout=30.0)
    assert result.not_2xx == 0, result.error_samples
    assert result.events > 40 and result.stops > 0
    assert result.accepted == result.events  # each event accepted by exactly one post
    assert result.duplicates == result.events * (result.clients - 1)
    assert result.stored_events == result.events
    assert result.rewards_stored == result.rewards_expected > 0
    assert result.suppressions_stored == result.stops
    assert result.arms_exact, (result.arms_expected, result.arms_stored)
    assert any(arm["revenue_sum"] > 0 for arm in result.arms_stored.values())


@pytest.mark.postgres
def test_replayed_events_are_stored_and_counted_once_postgresql_two_workers(
    tmp_path: Path, mlflow_uri: str, pg_url: str
) -> None:
    """Two workers side by side: batches that credit several arms lock their statistics in
    one order (``optimizer.store.locks.lock_arms_of``); in the order of their events, 18 of
    200 posts failed with a deadlock."""
    with running_server(
        tmp_path / "var",
        database_url=pg_url,
        workers=2,
        extra_env=SIMULATION_ENV,
        mlflow_uri=mlflow_uri,
    ) as server:
        result = run_replay(server, leads=45, clients=20, batch=10, seed=1, timeout=30.0)
    assert result.not_2xx == 0, result.error_samples
    assert result.accepted == result.events
    assert result.stored_events == result.events
    assert result.rewards_stored == result.rewards_expected > 0
    assert result.suppressions_stored == result.stops
    assert result.arms_exact, (result.arms_expected, result.arms_stored)
