"""`optimizer serve --workers 2` on PostgreSQL, driven through both workers: the opt-out race,
one idempotency key posted to both workers at once, concurrent updates of one experiment's arm
statistics, and a SIGHUP that replaces both workers while requests keep being answered.

One server for the module (a simulation, legal policy, as the reliability scenarios run it),
on a database of the session's throw-away PostgreSQL server. That a scenario reached both
workers is checked in the server's JSON request log: each line names the worker's pid.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from experiments.live_server import ServerProcess, running_server
from experiments.reliability_race import daytime_area_codes, phone_numbers, run_race
from experiments.reliability_replay import VARIANTS
from experiments.reliability_writers import (
    DEFAULT_NOW,
    SIMULATION_ENV,
    add_consent,
    decide,
    make_lead,
)
from tests.api.test_metrics_workers import _decision_pids as worker_pids
from tests.mlflow_template import copy_store
from tests.pg_server import PgServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

NOW = DEFAULT_NOW  # Tuesday 14:00 in New York, 13:00 in Chicago
CLIENTS = 16


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    pg_server_instance: PgServer,
    pg_api_template: str,
    _mlflow_template: Path,
) -> Iterator[ServerProcess]:
    var_dir = tmp_path_factory.mktemp("pg-workers") / "var"
    var_dir.mkdir(parents=True)
    url = pg_server_instance.create_database(f"workers_{os.getpid()}", template=pg_api_template)
    with running_server(
        var_dir,
        database_url=url,
        workers=2,
        extra_env=SIMULATION_ENV,
        mlflow_uri=copy_store(_mlflow_template, var_dir),
        log_level="info",
    ) as running:
        yield running


def _post(server: ServerProcess, scope: str, path: str, body: dict[str, Any]) -> httpx.Response:
    """One request on a connection of its own, so that the kernel hands it to either worker."""
    return httpx.post(
        f"{server.base_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {server.keys[scope]}"},
        timeout=60,
    )


def _pids_since(log: Path, offset: int, route: str) -> Counter[int]:
    """Requests per worker pid on ``route`` in the log lines written after byte ``offset``."""
    with log.open("rb") as f:
        f.seek(offset)
        raw = f.read().decode()
    found: Counter[int] = Counter()
    for line in raw.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == "request" and entry.get("route") == route:
                found[int(entry["pid"])] += 1
    return found


def _sent_leads(
    server: ServerProcess, *, area: str, count: int, seed: int, tag: str, **source: Any
) -> list[dict[str, Any]]:
    """``count`` leads with consent, each with a decision made and confirmed at ``NOW``."""
    phones = phone_numbers(area, count, random.Random(seed))
    created = NOW - dt.timedelta(minutes=5)

    def one(item: tuple[int, str]) -> dict[str, Any]:
        i, phone = item
        with server.client("ingest") as ingest, server.client("decide") as decider:
            lead_id = make_lead(ingest, external_id=f"{tag}-{i}", phone=phone, created=created)
            add_consent(ingest, lead_id, created - dt.timedelta(seconds=5))
            decision = decide(decider, lead_id, NOW, **source)
            confirmed = decider.post(
                f"/v1/decisions/{decision['decision_id']}/confirm", json={"as_of": NOW.isoformat()}
            )
            confirmed.raise_for_status()
            assert confirmed.json()["allowed"] is True, confirmed.json()
        return decision

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, enumerate(phones)))


def test_no_send_committed_after_a_stored_stop_through_both_workers(
    server: ServerProcess,
) -> None:
    now = dt.datetime.now(dt.UTC)
    if not daytime_area_codes(now):
        pytest.skip(f"no US area code in daytime at {now:%H:%M} UTC: the gate allows no text")
    offset = server.log_path.stat().st_size
    result = run_race(server, leads=40, decisions_per_lead=3, clients=50, seed=14, now=now)
    assert result.errors == 0, result.error_samples
    assert result.stops_acknowledged == 40
    assert result.confirms_allowed > 0  # sends did go out before the STOPs: the race ran
    assert result.order_by == "commit_timestamp"
    assert result.sends_after_stop == 0, result.as_dict()
    for route in ("/v1/decisions/{decision_id}/confirm", "/v1/events"):
        pids = _pids_since(server.log_path, offset, route)
        assert len(pids) == 2, (route, pids)


def test_one_idempotency_key_posted_to_both_workers_at_once_is_stored_once(
    server: ServerProcess,
) -> None:
    (decision,) = _sent_leads(server, area="312", count=1, seed=21, tag="idem")
    stop = {
        "idempotency_key": "idem-stop-1",
        "lead_id": decision["lead_id"],
        "type": "inbound",
        "channel": "sms",
        "occurred_at": (NOW + dt.timedelta(minutes=2)).isoformat(),
        "text": "STOP",
    }
    posts = 40
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(
            pool.map(
                lambda _: _post(server, "ingest", "/v1/events", {"events": [stop]}), range(posts)
            )
        )
    assert [a.status_code for a in answers] == [200] * posts, [
        a.text for a in answers if a.status_code != 200
    ][:3]
    bodies = [a.json() for a in answers]
    assert sum(b["accepted"] for b in bodies) == 1
    assert sum(b["duplicates"] for b in bodies) == posts - 1
    # The same answer from both workers, the first time and every replay: the confirmation.
    actions = {json.dumps(b["actions"], sort_keys=True) for b in bodies}
    assert len(actions) == 1 and bodies[0]["actions"], actions
    request_ids = {a.headers["x-request-id"] for a in answers}
    assert len(worker_pids(server.log_path, request_ids)) == 2, "one worker answered them all"
    with server.client("read") as reader:
        timeline = reader.get(f"/v1/leads/{decision['lead_id']}/timeline").json()["timeline"]
    inbound = [e for e in timeline if e["kind"] == "event" and e["type"] == "inbound"]
    assert len(inbound) == 1, inbound


def test_concurrent_rewards_through_both_workers_update_the_arms_exactly(
    server: ServerProcess,
) -> None:
    with server.client("admin") as admin:
        made = admin.post(
            "/v1/experiments",
            json={
                "name": "arms-two-workers",
                "metric": "reply",
                "policy": "thompson",
                "variants": [{"name": n, "template": t} for n, t in VARIANTS],
            },
        )
        assert made.status_code == 201, made.text
    experiment_id = made.json()["id"]
    decisions = _sent_leads(
        server, area="312", count=40, seed=22, tag="arms", experiment_id=experiment_id
    )
    replies = [
        {
            "idempotency_key": f"arms-reply-{d['decision_id']}",
            "lead_id": d["lead_id"],
            "type": "reply",
            "channel": "sms",
            "occurred_at": (NOW + dt.timedelta(minutes=10)).isoformat(),
            "text": "Yes, Tuesday works",
            "decision_id": d["decision_id"],
        }
        for d in decisions
    ]
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(
            pool.map(lambda e: _post(server, "ingest", "/v1/events", {"events": [e]}), replies)
        )
    assert [a.status_code for a in answers] == [200] * len(replies)
    assert sum(a.json()["accepted"] for a in answers) == len(replies)
    request_ids = {a.headers["x-request-id"] for a in answers}
    assert len(worker_pids(server.log_path, request_ids)) == 2, "one worker answered them all"
    sends = Counter(d["variant_id"] for d in decisions)
    assert len(sends) == 2, sends  # both arms were updated at once
    with server.client("read") as reader:
        results = reader.get(f"/v1/experiments/{experiment_id}/results").json()
    arms = {v["variant_id"]: (v["sends"], v["successes"]) for v in results["variants"]}
    assert arms == {variant: (n, n) for variant, n in sends.items()}


def _started_workers(log: Path) -> list[int]:
    """Pids of the workers that finished starting, in the order they did."""
    pids = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == "Application startup complete.":
                pids.append(int(entry["pid"]))
    return pids


def test_sighup_replaces_both_workers_while_every_request_is_answered(
    server: ServerProcess,
) -> None:
    """How a new champion is rolled out (docs/deploy.md): SIGHUP to `optimizer serve` starts a
    new worker, waits until it is ready, then stops an old one, one at a time. Last in the
    module: the server's workers are new afterwards."""
    assert server.process is not None
    old = set(_started_workers(server.log_path))
    assert len(old) == 2
    statuses: list[int | str] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                answer = httpx.get(
                    f"{server.base_url}/v1/models",
                    headers={"Authorization": f"Bearer {server.keys['read']}"},
                    timeout=60,
                )
                statuses.append(answer.status_code)
            except httpx.HTTPError as exc:
                statuses.append(type(exc).__name__)
            time.sleep(0.05)

    askers = [threading.Thread(target=ask) for _ in range(4)]
    for asker in askers:
        asker.start()
    os.kill(server.process.pid, signal.SIGHUP)  # the supervisor only, not its workers
    deadline = time.monotonic() + 300
    new: set[int] = set()
    while time.monotonic() < deadline and len(new) < 2:
        time.sleep(0.5)
        new = set(_started_workers(server.log_path)) - old
        assert "aborting the restart" not in server.log_path.read_text()
    time.sleep(1)
    stop.set()
    for asker in askers:
        asker.join()
    assert len(new) == 2, "the workers were not replaced"
    assert statuses and set(statuses) == {200}, Counter(statuses)
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(
            pool.map(
                lambda _: httpx.get(
                    f"{server.base_url}/v1/models",
                    headers={"Authorization": f"Bearer {server.keys['read']}"},
                    timeout=60,
                ),
                range(32),
            )
        )
    assert {a.status_code for a in answers} == {200}
    request_ids = {a.headers["x-request-id"] for a in answers}
    assert worker_pids(server.log_path, request_ids) <= new  # the old workers are gone
