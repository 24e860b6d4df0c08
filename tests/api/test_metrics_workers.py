"""`optimizer serve --workers 2`: /metrics is the sum over both workers whichever answers, the
multiprocess directory is emptied at start, and each worker writes JSON request lines."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from experiments.live_server import ServerProcess, running_server
from tests.api.helpers import TEMPLATE, new_lead


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def _decide(server: ServerProcess, lead_id: int) -> str:
    # A new connection per request, so the kernel hands them to either worker.
    response = httpx.post(
        f"{server.base_url}/v1/next-best-action",
        json={"lead_id": lead_id, "template": TEMPLATE},
        headers={"Authorization": f"Bearer {server.keys['decide']}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.headers["x-request-id"]


def _decision_pids(log: Path, request_ids: set[str]) -> set[int]:
    pids = set()
    for raw in log.read_text().splitlines():
        if not raw.startswith("{"):
            continue
        line = json.loads(raw)
        if line.get("event") == "request" and line.get("request_id") in request_ids:
            pids.add(line["pid"])
    return pids


@pytest.mark.slow
def test_metrics_are_summed_over_two_workers(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    stale = var_dir / "prometheus-multiproc"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"left by an earlier run")
    with running_server(var_dir, workers=2, log_level="info") as server:
        assert not (stale / "counter_1.db").exists()
        now = dt.datetime.now(dt.UTC)
        with server.client() as client:
            leads = [
                new_lead(client, phone=f"(212) 555-01{i:02d}", created_at=now)["id"]
                for i in range(8)
            ]
        request_ids: set[str] = set()
        # Rounds of concurrent decisions until both workers have made some (a few at most).
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _round in range(10):
                request_ids |= set(pool.map(lambda lead: _decide(server, lead), leads * 2))
                if len(_decision_pids(server.log_path, request_ids)) >= 2:
                    break
        made = len(request_ids)
        assert len(_decision_pids(server.log_path, request_ids)) == 2, "one worker did it all"
        for _scrape in range(8):
            text = httpx.get(f"{server.base_url}/metrics", timeout=30).text
            decisions = _samples(text, "optimizer_decisions_total")
            assert sum(value for _labels, value in decisions) == made, decisions
            # Counted once per decision however many reasons it has: the histogram too.
            nba = [
                value
                for labels, value in _samples(text, "optimizer_request_seconds_count")
                if labels.get("route") == "/v1/next-best-action"
            ]
            assert sum(nba) == made
            # A live sum over the workers: this scrape is the one request in progress.
            assert _samples(text, "optimizer_requests_in_progress") == [({}, 1.0)]
        assert len(list(stale.glob("counter_*.db"))) == 2  # one file per worker


def test_live_gauges_of_gone_processes_are_dropped_at_scrape(tmp_path: Path) -> None:
    from api.telemetry import _forget_dead_processes

    dead_pid = _ended_pid()
    (tmp_path / f"gauge_livesum_{dead_pid}.db").write_bytes(b"")
    (tmp_path / f"gauge_livemax_{dead_pid}.db").write_bytes(b"")
    (tmp_path / f"gauge_livesum_{os.getpid()}.db").write_bytes(b"")
    (tmp_path / f"counter_{dead_pid}.db").write_bytes(b"")  # counters of the dead still count
    _forget_dead_processes(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{dead_pid}.db", f"gauge_livesum_{os.getpid()}.db"]
    )


def _ended_pid() -> int:
    """The pid of a child that has exited and been reaped (free, barring reuse)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
