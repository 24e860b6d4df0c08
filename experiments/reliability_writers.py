"""Concurrent writers: a burst of writing requests released at the same instant, and a steady
write load that watches SQLite's write-ahead log.

``run_writers``: ``requests`` writing requests of four kinds (lead creates, consents, event
batches with STOPs among them, confirms of pre-made decisions), each on a client thread of its
own with its connection already open, wait at one barrier and are sent together. The figures
are how many were answered 2xx, how many were not (another status or no answer within the
client's timeout), and the slowest and median answer. A server whose writers stall (every pool
thread waiting for a write lock held by a request that waits for a pool thread) answers some
of them 500 or not at all.

``run_wal_load``: writer threads (leads, consents, events, STOPs, as the crash scenario sends
them) for ``seconds``, with the size of the store's ``-wal`` file sampled every second.

The server runs as a simulation (``OPTIMIZER_SIMULATION=true``) so that the moment the leads
and decisions are made is an argument (``now``), not the hour the scenario happens to run at.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from experiments.live_server import ServerProcess
from experiments.reliability_race import BRAND, DISCLOSURE, TEMPLATE, phone_numbers

# A Tuesday, 14:00 in New York: the gate allows a marketing text to a 212 number then.
DEFAULT_NOW = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)
SIMULATION_ENV = {
    "OPTIMIZER_POLICY": "legal",
    "OPTIMIZER_BRAND_NAME": BRAND,
    "OPTIMIZER_SIMULATION": "true",
}
KINDS = ("lead", "consent", "events", "confirm")


def make_lead(client: httpx.Client, *, external_id: str, phone: str, created: dt.datetime) -> int:
    response = client.post(
        "/v1/leads",
        json={
            "external_id": external_id,
            "phone": phone,
            "attributes": {"first_name": "Ana"},
            "created_at": created.isoformat(),
        },
    )
    response.raise_for_status()
    return int(response.json()["id"])


def consent_body(granted: dt.datetime) -> dict[str, Any]:
    return {
        "granted_at": granted.isoformat(),
        "method": "web",
        "brand": BRAND,
        "disclosure": DISCLOSURE,
        "evidence": {"page_url": "https://acme.example/form"},
    }


def add_consent(client: httpx.Client, lead_id: int, granted: dt.datetime) -> None:
    client.post(f"/v1/leads/{lead_id}/consents", json=consent_body(granted)).raise_for_status()


def decide(client: httpx.Client, lead_id: int, as_of: dt.datetime, **source: Any) -> dict[str, Any]:
    body = {"lead_id": lead_id, "as_of": as_of.isoformat(), **(source or {"template": TEMPLATE})}
    response = client.post("/v1/next-best-action", json=body)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


@dataclass
class WritersResult:
    requests: int
    ok: int
    not_ok: int
    slowest_seconds: float
    p50_seconds: float
    p90_seconds: float
    by_kind: dict[str, int]
    statuses: dict[str, int]
    error_samples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok_2xx": self.ok,
            "not_2xx": self.not_ok,
            "slowest_s": round(self.slowest_seconds, 3),
            "p50_s": round(self.p50_seconds, 3),
            "p90_s": round(self.p90_seconds, 3),
            "by_kind": self.by_kind,
            "statuses": self.statuses,
            "error_samples": self.error_samples,
        }


def _plan(
    server: ServerProcess,
    *,
    requests: int,
    now: dt.datetime,
    seed: int,
    tag: str,
    setup_threads: int = 4,
) -> list[tuple[str, Callable[[httpx.Client], httpx.Response]]]:
    """The burst: (kind, request) pairs, a quarter of each kind; the leads, consents and
    decisions they need are made first, one request at a time."""
    rng = random.Random(seed)
    quarter = max(1, requests // 4)
    counts = {kind: quarter for kind in KINDS}
    counts["lead"] += requests - 4 * quarter
    phones = phone_numbers(
        "212", counts["lead"] + max(counts["consent"], counts["events"]) + counts["confirm"], rng
    )
    created = now - dt.timedelta(minutes=5)
    plan: list[tuple[str, Callable[[httpx.Client], httpx.Response]]] = []
    bare_phones = [phones.pop() for _ in range(max(counts["consent"], counts["events"]))]
    ready_phones = [phones.pop() for _ in range(counts["confirm"])]

    def bare_lead(item: tuple[int, str]) -> int:
        # Leads without consent: the consent requests' and the event batches'.
        with server.client("ingest") as ingest:
            return make_lead(
                ingest, external_id=f"{tag}-bare-{item[0]}", phone=item[1], created=created
            )

    def ready_lead(item: tuple[int, str]) -> str:
        # Leads with consent and a decision to confirm.
        i, phone = item
        with server.client("ingest") as ingest, server.client("decide") as decide_client:
            lead_id = make_lead(
                ingest, external_id=f"{tag}-ready-{i}", phone=phone, created=created
            )
            add_consent(ingest, lead_id, created - dt.timedelta(seconds=5))
            return str(decide(decide_client, lead_id, now)["decision_id"])

    with ThreadPoolExecutor(max_workers=setup_threads) as pool:
        bare = list(pool.map(bare_lead, enumerate(bare_phones)))
        decisions = list(pool.map(ready_lead, enumerate(ready_phones)))
    event_leads = bare[: counts["events"]]
    bare = bare[: counts["consent"]]
    at = now + dt.timedelta(minutes=1)

    def lead_request(i: int, phone: str) -> Callable[[httpx.Client], httpx.Response]:
        body = {
            "external_id": f"{tag}-new-{i}",
            "phone": phone,
            "attributes": {"first_name": "Bo"},
            "created_at": at.isoformat(),
        }
        return lambda c: c.post("/v1/leads", json=body)

    def consent_request(lead_id: int) -> Callable[[httpx.Client], httpx.Response]:
        body = consent_body(at)
        return lambda c: c.post(f"/v1/leads/{lead_id}/consents", json=body)

    def events_request(i: int, lead_id: int) -> Callable[[httpx.Client], httpx.Response]:
        events: list[dict[str, Any]] = [
            {
                "idempotency_key": f"{tag}-ev-{i}-{kind}",
                "lead_id": lead_id,
                "type": kind,
                "channel": channel,
                "occurred_at": at.isoformat(),
            }
            for kind, channel in (("email_open", "email"), ("visit", "webchat"))
        ]
        if i % 3 == 0:
            events.append(
                {
                    "idempotency_key": f"{tag}-ev-{i}-stop",
                    "lead_id": lead_id,
                    "type": "inbound",
                    "channel": "sms",
                    "occurred_at": at.isoformat(),
                    "text": "STOP",
                }
            )
        return lambda c: c.post("/v1/events", json={"events": events})

    def confirm_request(decision_id: str) -> Callable[[httpx.Client], httpx.Response]:
        return lambda c: c.post(
            f"/v1/decisions/{decision_id}/confirm", json={"as_of": at.isoformat()}
        )

    plan += [("lead", lead_request(i, phones.pop())) for i in range(counts["lead"])]
    plan += [("consent", consent_request(lead_id)) for lead_id in bare]
    plan += [("events", events_request(i, lead_id)) for i, lead_id in enumerate(event_leads)]
    plan += [("confirm", confirm_request(decision_id)) for decision_id in decisions]
    rng.shuffle(plan)
    return plan


SCOPE_OF = {"lead": "ingest", "consent": "ingest", "events": "ingest", "confirm": "decide"}


def run_writers(
    server: ServerProcess,
    *,
    requests: int = 200,
    now: dt.datetime = DEFAULT_NOW,
    seed: int = 0,
    timeout: float = 60.0,
    tag: str = "writers",
) -> WritersResult:
    """``requests`` writing requests released together at one barrier (see the module doc).
    The server must run with :data:`SIMULATION_ENV`; ``tag`` keeps external ids and event keys
    of several runs on one store apart."""
    plan = _plan(server, requests=requests, now=now, seed=seed, tag=tag)
    barrier = threading.Barrier(len(plan))
    took: list[float] = []
    statuses: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    samples: list[str] = []
    lock = threading.Lock()

    # One client per scope, shared by the threads, with a connection for each of them: what
    # is measured is the server, not the cost of making 200 clients.
    limits = httpx.Limits(max_connections=len(plan), max_keepalive_connections=len(plan))
    clients = {
        scope: httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {server.keys[scope]}"},
            timeout=timeout,
            limits=limits,
        )
        for scope in set(SCOPE_OF.values())
    }

    def one(kind: str, send: Callable[[httpx.Client], httpx.Response]) -> None:
        client = clients[SCOPE_OF[kind]]
        barrier.wait(timeout=120)
        began = time.monotonic()
        try:
            response = send(client)
            status, detail = str(response.status_code), response.text[:200]
        except httpx.HTTPError as exc:
            status, detail = type(exc).__name__, str(exc)[:200]
        elapsed = time.monotonic() - began
        with lock:
            took.append(elapsed)
            statuses[status] += 1
            if status.isdigit() and 200 <= int(status) < 300:
                kinds[kind] += 1
            elif len(samples) < 5:
                samples.append(f"{kind}: {status} {detail}")

    threads = [threading.Thread(target=one, args=item, daemon=True) for item in plan]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=timeout + 180)
    finally:
        for client in clients.values():
            client.close()
    ok = sum(n for s, n in statuses.items() if s.isdigit() and 200 <= int(s) < 300)
    ordered = sorted(took)
    return WritersResult(
        requests=len(plan),
        ok=ok,
        not_ok=len(plan) - ok,
        slowest_seconds=ordered[-1] if ordered else 0.0,
        p50_seconds=statistics.median(ordered) if ordered else 0.0,
        p90_seconds=ordered[int(0.9 * (len(ordered) - 1))] if ordered else 0.0,
        by_kind=dict(sorted(kinds.items())),
        statuses=dict(sorted(statuses.items())),
        error_samples=samples,
    )


# -- the write-ahead log under steady writes -------------------------------------------------


@dataclass
class WalResult:
    seconds: float
    writers: int
    requests: int
    acknowledged: int
    errors: int
    samples: list[int]
    store_bytes: int

    def as_dict(self) -> dict[str, Any]:
        mib = 1024 * 1024
        return {
            "seconds": self.seconds,
            "writers": self.writers,
            "requests": self.requests,
            "acknowledged_writes": self.acknowledged,
            "errors": self.errors,
            "max_wal_mib": round(max(self.samples, default=0) / mib, 2),
            "last_wal_mib": round((self.samples[-1] if self.samples else 0) / mib, 2),
            "store_mib": round(self.store_bytes / mib, 2),
            "wal_samples_mib": [round(s / mib, 2) for s in self.samples],
        }


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def run_wal_load(
    server: ServerProcess,
    db: Path,
    *,
    seconds: float = 60.0,
    writers: int = 4,
    readers: int = 2,
    say: Callable[[str], None] = lambda _line: None,
) -> WalResult:
    """``writers`` threads write (as in the crash scenario) and ``readers`` threads read reports
    for ``seconds``; the ``-wal`` file beside ``db`` is measured every second."""
    from experiments.crash_safety import Acknowledged, _writer

    ack = Acknowledged()
    stop = threading.Event()
    key = server.keys["admin"]

    def reader() -> None:
        with server.client("read", timeout=60) as client:
            while not stop.is_set():
                try:
                    client.get("/v1/reports/health")
                except httpx.HTTPError:
                    time.sleep(0.1)

    threads = [
        threading.Thread(target=_writer, args=(server.base_url, key, w, 1, ack, stop), daemon=True)
        for w in range(writers)
    ] + [threading.Thread(target=reader, daemon=True) for _ in range(readers)]
    wal = db.with_name(db.name + "-wal")
    samples: list[int] = []
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        while time.monotonic() - started < seconds:
            time.sleep(1.0)
            samples.append(_size(wal))
            if len(samples) % 10 == 0:
                say(f"{len(samples)} s: wal {samples[-1] / 2**20:.1f} MiB, {ack.total()} writes")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    return WalResult(
        seconds=seconds,
        writers=writers,
        requests=ack.requests,
        acknowledged=ack.total(),
        errors=ack.errors,
        samples=samples,
        store_bytes=_size(db),
    )
