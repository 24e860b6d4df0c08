"""Replayed events: the same outcome events posted by many clients at once, each client sending
all of them (as retrying webhooks do), must be stored once and counted once.

Three experiments (metrics reply, click and revenue; two variants each) get one sent decision
per lead (decided and confirmed at ``now``). The events are, per lead, a reply, a click and a
purchase with a value (each with the lead's decision id, each drawn with some probability) and
for some leads a STOP; each has its own idempotency key. ``clients`` clients post all of them,
in batches, together (each starts at another batch). Checked in the store afterwards: event
rows (one per key), rewards (one per decision and metric), suppressions (one per STOP), and
every arm's statistics — sends, successes, revenue sum and sum of squares, opt-outs — against
what one posting of the events gives, computed from the events themselves.

The server runs as a simulation (see :mod:`experiments.reliability_writers`).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from experiments.live_server import ServerProcess
from experiments.reliability_race import phone_numbers
from experiments.reliability_writers import DEFAULT_NOW, add_consent, decide, make_lead
from optimizer.store.db import make_engine

METRIC_EVENT = {"reply": "reply", "click": "click", "revenue": "purchase"}
VARIANTS = (
    ("A", "Acme Dental: hi {first_name}, your cleaning is one tap away. Reply STOP to opt out."),
    ("B", "Acme Dental: {first_name}, book your cleaning today? Reply STOP to opt out."),
)


@dataclass(frozen=True)
class Sent:
    lead_id: int
    phone: str
    decision_id: str
    experiment_id: int
    metric: str
    variant_id: int


@dataclass
class ReplayResult:
    clients: int
    events: int
    posts: int
    not_2xx: int
    accepted: int
    duplicates: int
    stored_events: int
    rewards_expected: int
    rewards_stored: int
    stops: int
    suppressions_stored: int
    arms_expected: dict[int, dict[str, float]]
    arms_stored: dict[int, dict[str, float]]
    slowest_seconds: float
    error_samples: list[str] = field(default_factory=list)

    @property
    def arms_exact(self) -> bool:
        """Counts equal; sums of money equal up to the float rounding of adding them in
        another order (a relative 1e-9)."""
        if self.arms_stored.keys() != self.arms_expected.keys():
            return False
        for variant, want in self.arms_expected.items():
            got = self.arms_stored[variant]
            for name, value in want.items():
                if name.startswith("revenue"):
                    if not math.isclose(got[name], value, rel_tol=1e-9, abs_tol=1e-9):
                        return False
                elif got[name] != value:
                    return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "events": self.events,
            "posts": self.posts,
            "not_2xx": self.not_2xx,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "stored_events": self.stored_events,
            "rewards_expected": self.rewards_expected,
            "rewards_stored": self.rewards_stored,
            "stops": self.stops,
            "suppressions_stored": self.suppressions_stored,
            "arms": len(self.arms_expected),
            "arms_exact": self.arms_exact,
            "arms_expected": {str(k): _shown(v) for k, v in self.arms_expected.items()},
            "arms_stored": {str(k): _shown(v) for k, v in self.arms_stored.items()},
            "slowest_s": round(self.slowest_seconds, 3),
            "error_samples": self.error_samples,
        }


def _shown(arm: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in arm.items()}


def _setup(
    server: ServerProcess, *, leads: int, now: dt.datetime, rng: random.Random, tag: str
) -> list[Sent]:
    experiments: list[tuple[int, str]] = []
    with server.client("admin") as admin:
        for metric in METRIC_EVENT:
            response = admin.post(
                "/v1/experiments",
                json={
                    "name": f"{tag}-{metric}",
                    "metric": metric,
                    "policy": "thompson_normal" if metric == "revenue" else "thompson",
                    "variants": [{"name": n, "template": t} for n, t in VARIANTS],
                    "control": "A",
                    "attribution_hours": 72,
                },
            )
            response.raise_for_status()
            experiments.append((int(response.json()["id"]), metric))
    phones = phone_numbers("212", leads, rng)
    created = now - dt.timedelta(minutes=5)

    def one(item: tuple[int, str]) -> Sent | None:
        i, phone = item
        experiment_id, metric = experiments[i % len(experiments)]
        with server.client("ingest") as ingest, server.client("decide") as decider:
            lead_id = make_lead(ingest, external_id=f"{tag}-{i}", phone=phone, created=created)
            add_consent(ingest, lead_id, created - dt.timedelta(seconds=5))
            decision = decide(decider, lead_id, now, experiment_id=experiment_id)
            confirmed = decider.post(
                f"/v1/decisions/{decision['decision_id']}/confirm", json={"as_of": now.isoformat()}
            )
            confirmed.raise_for_status()
        if not confirmed.json()["allowed"]:
            return None
        return Sent(
            lead_id, phone, decision["decision_id"], experiment_id, metric, decision["variant_id"]
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        made = list(pool.map(one, enumerate(phones)))
    return [sent for sent in made if sent is not None]


def _events(
    sent: list[Sent], *, now: dt.datetime, rng: random.Random, tag: str
) -> tuple[list[dict[str, Any]], set[str]]:
    """The events (at most one of each type per lead), and the decision ids of the STOP leads."""
    events: list[dict[str, Any]] = []
    stopped: set[str] = set()
    for s in sent:
        base = {"lead_id": s.lead_id, "channel": "sms", "decision_id": s.decision_id}

        def at() -> str:
            return (now + dt.timedelta(minutes=rng.randint(5, 600))).isoformat()

        if rng.random() < 0.5:
            events.append(
                {**base, "type": "reply", "text": "Yes, Tuesday works", "occurred_at": at()}
            )
        if rng.random() < 0.5:
            events.append({**base, "type": "click", "occurred_at": at()})
        if rng.random() < 0.4:
            value = round(rng.uniform(5, 250), 2)
            events.append({**base, "type": "purchase", "value": value, "occurred_at": at()})
        if rng.random() < 0.2:
            events.append(
                {
                    "lead_id": s.lead_id,
                    "channel": "sms",
                    "type": "inbound",
                    "text": "STOP",
                    "occurred_at": at(),
                }
            )
            stopped.add(s.decision_id)
    for event in events:
        event["idempotency_key"] = f"{tag}-{event['lead_id']}-{event['type']}"
    rng.shuffle(events)
    return events, stopped


def expected_arms(
    sent: list[Sent], events: list[dict[str, Any]], stopped: set[str]
) -> tuple[dict[int, dict[str, float]], int]:
    """Arm statistics after one posting of ``events``, and the rewards it stores."""
    arms: dict[int, dict[str, float]] = {}
    by_decision = {s.decision_id: s for s in sent}
    rewards = 0
    for s in sent:
        arm = arms.setdefault(
            s.variant_id,
            {"sends": 0, "successes": 0, "revenue_sum": 0.0, "revenue_sum_sq": 0.0, "opt_outs": 0},
        )
        arm["sends"] += 1
        if s.decision_id in stopped:
            arm["opt_outs"] += 1
            rewards += 1
    for event in events:
        credited = by_decision.get(event.get("decision_id") or "")
        if credited is None or METRIC_EVENT[credited.metric] != event["type"]:
            continue
        arm = arms[credited.variant_id]
        rewards += 1
        if credited.metric == "revenue":
            value = float(event["value"])
            arm["successes"] += int(value > 0)
            arm["revenue_sum"] += value
            arm["revenue_sum_sq"] += value * value
        else:
            arm["successes"] += 1
    return {k: _rounded(v) for k, v in sorted(arms.items())}, rewards


def _rounded(arm: dict[str, float]) -> dict[str, float]:
    return {
        "sends": int(arm["sends"]),
        "successes": int(arm["successes"]),
        "revenue_sum": float(arm["revenue_sum"]),
        "revenue_sum_sq": float(arm["revenue_sum_sq"]),
        "opt_outs": int(arm["opt_outs"]),
    }


def _stored(
    database_url: str, sent: list[Sent], tag: str
) -> tuple[int, int, int, dict[int, dict[str, float]]]:
    """(event rows with the scenario's keys, rewards of its decisions, suppressions of its
    numbers, arm statistics of its experiments) read from the store."""
    engine = make_engine(database_url, create_dirs=False)
    decision_ids = sorted(s.decision_id for s in sent)
    phones = sorted({s.phone for s in sent})
    experiment_ids = sorted({s.experiment_id for s in sent})
    try:
        with engine.connect() as conn:
            events = conn.execute(
                text("SELECT count(*) FROM events WHERE idempotency_key LIKE :prefix"),
                {"prefix": f"{tag}-%"},
            ).scalar_one()
            rewards = sum(
                conn.execute(
                    text("SELECT count(*) FROM decision_rewards WHERE decision_id = :d"), {"d": d}
                ).scalar_one()
                for d in decision_ids
            )
            suppressions = sum(
                conn.execute(
                    text(
                        "SELECT count(*) FROM suppressions WHERE phone_e164 = :p "
                        "AND action = 'suppress'"
                    ),
                    {"p": p},
                ).scalar_one()
                for p in phones
            )
            arms = {}
            for experiment_id in experiment_ids:
                for row in conn.execute(
                    text(
                        "SELECT variant_id, sends, successes, revenue_sum, revenue_sum_sq, "
                        "opt_outs FROM arm_stats WHERE experiment_id = :e"
                    ),
                    {"e": experiment_id},
                ).mappings():
                    arms[int(row["variant_id"])] = _rounded(dict(row))
    finally:
        engine.dispose()
    # An arm no decision went to is left out of the expectation: leave it out here too when
    # nothing happened on it.
    used = {s.variant_id for s in sent}
    arms = {k: v for k, v in sorted(arms.items()) if k in used or any(v.values())}
    return int(events), int(rewards), int(suppressions), arms


def run_replay(
    server: ServerProcess,
    *,
    leads: int = 60,
    clients: int = 20,
    batch: int = 10,
    seed: int = 0,
    now: dt.datetime = DEFAULT_NOW,
    timeout: float = 60.0,
    tag: str = "replay",
) -> ReplayResult:
    """See the module docstring; the server must run with
    :data:`experiments.reliability_writers.SIMULATION_ENV` on a store of its own."""
    rng = random.Random(seed)
    sent = _setup(server, leads=leads, now=now, rng=rng, tag=tag)
    events, stopped = _events(sent, now=now, rng=rng, tag=tag)
    batches = [events[i : i + batch] for i in range(0, len(events), batch)]
    barrier = threading.Barrier(clients)
    lock = threading.Lock()
    totals: Counter[str] = Counter()
    samples: list[str] = []
    slowest = [0.0]

    def client_run(k: int) -> None:
        order = batches[k % len(batches) :] + batches[: k % len(batches)]
        with server.client("ingest", timeout=timeout) as client:
            client.get("/healthz")
            barrier.wait(timeout=120)
            for chunk in order:
                began = time.monotonic()
                try:
                    response = client.post("/v1/events", json={"events": chunk})
                    status, detail = response.status_code, response.text[:200]
                except httpx.HTTPError as exc:
                    status, detail = 0, type(exc).__name__
                took = time.monotonic() - began
                with lock:
                    slowest[0] = max(slowest[0], took)
                    totals["posts"] += 1
                    if 200 <= status < 300:
                        body = response.json()
                        totals["accepted"] += int(body["accepted"])
                        totals["duplicates"] += int(body["duplicates"])
                    else:
                        totals["not_2xx"] += 1
                        if len(samples) < 5:
                            samples.append(f"{status} {detail}")

    threads = [threading.Thread(target=client_run, args=(k,), daemon=True) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout * len(batches) + 120)
    arms_expected, rewards_expected = expected_arms(sent, events, stopped)
    stored_events, rewards_stored, suppressions, arms_stored = _stored(
        server.database_url, sent, tag
    )
    return ReplayResult(
        clients=clients,
        events=len(events),
        posts=totals["posts"],
        not_2xx=totals["not_2xx"],
        accepted=totals["accepted"],
        duplicates=totals["duplicates"],
        stored_events=stored_events,
        rewards_expected=rewards_expected,
        rewards_stored=rewards_stored,
        stops=len(stopped),
        suppressions_stored=suppressions,
        arms_expected=arms_expected,
        arms_stored=arms_stored,
        slowest_seconds=slowest[0],
        error_samples=samples,
    )
