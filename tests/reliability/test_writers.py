"""200 writing requests released at one barrier against one real ``optimizer serve`` worker on
SQLite: every one is answered 2xx, none waits long.

A server whose writers stall (every pool thread waiting in ``BEGIN IMMEDIATE`` for a lock held
by a request that waits for a pool thread: the transaction model before ``api.deps.run_write``)
answers such a burst with 500s after SQLite's 30 s busy timeout, or not within the client's
20 s. The full run (with PostgreSQL and 2 workers) is ``python -m experiments.reliability
writers``.
"""

from __future__ import annotations

from pathlib import Path

from experiments.live_server import running_server
from experiments.reliability_writers import SIMULATION_ENV, run_writers


def test_200_writers_at_once_all_answered_2xx_sqlite(tmp_path: Path, mlflow_uri: str) -> None:
    with running_server(
        tmp_path / "var", extra_env=SIMULATION_ENV, mlflow_uri=mlflow_uri
    ) as server:
        result = run_writers(server, requests=200, timeout=20.0)
    assert result.requests == 200
    assert result.not_ok == 0, result.as_dict()
    assert result.by_kind == {"confirm": 50, "consent": 50, "events": 50, "lead": 50}
    assert result.slowest_seconds < 20.0
