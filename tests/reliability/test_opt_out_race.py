"""The opt-out race on a real server process: no marketing send committed after the lead's STOP
was stored (by commit order in the store), on SQLite and on PostgreSQL with two workers.

The full run (≥ 100 leads, 10 runs per backend) is ``python -m experiments.reliability race``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from experiments.live_server import running_server
from experiments.reliability_race import BRAND, daytime_area_codes, run_race

ENV = {"OPTIMIZER_POLICY": "legal", "OPTIMIZER_BRAND_NAME": BRAND}


def _now_or_skip() -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    if not daytime_area_codes(now):
        pytest.skip(f"no US area code in daytime at {now:%H:%M} UTC: the gate allows no text")
    return now


def test_no_send_after_a_stored_stop_sqlite(tmp_path: Path) -> None:
    now = _now_or_skip()
    with running_server(tmp_path / "var", extra_env=ENV) as server:
        result = run_race(server, leads=40, decisions_per_lead=3, clients=50, seed=3, now=now)
    assert result.errors == 0, result.error_samples
    assert result.stops_acknowledged == 40
    assert result.confirms_allowed > 0  # the race ran: sends did go out before the STOPs
    assert result.sends_after_stop == 0, result.as_dict()


@pytest.mark.postgres
def test_no_send_after_a_stored_stop_postgresql_two_workers(tmp_path: Path, pg_url: str) -> None:
    now = _now_or_skip()
    with running_server(tmp_path / "var", database_url=pg_url, workers=2, extra_env=ENV) as server:
        result = run_race(server, leads=40, decisions_per_lead=3, clients=50, seed=4, now=now)
    assert result.errors == 0, result.error_samples
    assert result.order_by == "commit_timestamp"
    assert result.confirms_allowed > 0
    assert result.sends_after_stop == 0, result.as_dict()
