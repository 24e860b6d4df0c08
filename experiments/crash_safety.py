"""Crash safety of the ingest path: ``kill -9`` the server during a write load, restart it on the
same store, and check that every write it acknowledged is there and the database is intact.

A real server (``optimizer serve`` in a child process, started by
:func:`experiments.live_server.prepare_server`, SQLite store in a temporary var dir) takes concurrent ingest writes from several client
threads: leads (by ``external_id``), consents (by the id the server returned) and events,
inbound STOPs among them (by idempotency key). Every request answered 2xx is *acknowledged*. The
server is killed with SIGKILL mid-load, started again on the same store (which migrates and
recovers the write-ahead log), and the store is read directly: acknowledged writes missing
(must be 0) and ``PRAGMA integrity_check`` (must be ``ok``).

Run through ``python -m experiments.reliability crash``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from experiments import live_server

BRAND = "Acme Home Services"
DISCLOSURE = (
    "By checking this box you agree to receive marketing texts from Acme Home Services at the "
    "number provided. Consent is not a condition of purchase. Reply STOP to opt out."
)
SERVER_ENV = {"OPTIMIZER_BRAND_NAME": BRAND}


def server_env(var_dir: Path) -> dict[str, str]:
    """The environment the crash scenario's server runs in (store and MLflow in ``var_dir``)."""
    return live_server.server_env(var_dir, extra_env=SERVER_ENV)


@dataclass
class Acknowledged:
    """Writes the server answered 2xx, by what identifies each in the store."""

    leads: set[str] = field(default_factory=set)  # external_id
    consents: set[int] = field(default_factory=set)  # consent id returned
    events: set[str] = field(default_factory=set)  # idempotency key
    opt_outs: set[str] = field(default_factory=set)  # idempotency keys of the STOPs among them
    requests: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        return len(self.leads) + len(self.consents) + len(self.events)


def _writer(
    base_url: str, key: str, worker: int, round_no: int, ack: Acknowledged, stop: threading.Event
) -> None:
    """One client thread: lead -> consent -> a few events (every 5th lead ends with a STOP)."""
    headers = {"Authorization": f"Bearer {key}"}
    i = 0
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        while not stop.is_set():
            i += 1
            tag = f"r{round_no}-w{worker}-{i}"
            now = dt.datetime.now(dt.UTC)
            # A unique valid number per lead: exchange 2xx-9xx, line from the counter.
            phone = f"+1305{200 + (round_no * 97 + worker * 13) % 700:03d}{i % 10000:04d}"
            try:
                with ack.lock:
                    ack.requests += 1
                r = client.post(
                    "/v1/leads",
                    json={"external_id": f"crash-{tag}", "phone": phone, "state": "FL"},
                )
                if not r.is_success:
                    with ack.lock:
                        ack.errors += 1
                    continue
                lead_id = int(r.json()["id"])
                with ack.lock:
                    ack.leads.add(f"crash-{tag}")
                with ack.lock:
                    ack.requests += 1
                r = client.post(
                    f"/v1/leads/{lead_id}/consents",
                    json={
                        "granted_at": now.isoformat(),
                        "method": "web",
                        "brand": BRAND,
                        "disclosure": DISCLOSURE,
                        "checkbox_unchecked_by_default": True,
                    },
                )
                if r.is_success:
                    with ack.lock:
                        ack.consents.add(int(r.json()["id"]))
                else:
                    with ack.lock:
                        ack.errors += 1
                events: list[dict[str, Any]] = [
                    {
                        "idempotency_key": f"crash-{tag}-open",
                        "lead_id": lead_id,
                        "type": "email_open",
                        "channel": "email",
                        "occurred_at": now.isoformat(),
                    },
                    {
                        "idempotency_key": f"crash-{tag}-visit",
                        "lead_id": lead_id,
                        "type": "visit",
                        "channel": "webchat",
                        "occurred_at": now.isoformat(),
                    },
                ]
                stop_key = None
                if i % 5 == 0:
                    stop_key = f"crash-{tag}-stop"
                    events.append(
                        {
                            "idempotency_key": stop_key,
                            "lead_id": lead_id,
                            "type": "inbound",
                            "channel": "sms",
                            "occurred_at": now.isoformat(),
                            "text": "STOP",
                        }
                    )
                with ack.lock:
                    ack.requests += 1
                r = client.post("/v1/events", json={"events": events})
                if r.is_success:
                    with ack.lock:
                        ack.events.update(e["idempotency_key"] for e in events)
                        if stop_key is not None:
                            ack.opt_outs.add(stop_key)
                else:
                    with ack.lock:
                        ack.errors += 1
            except httpx.HTTPError:
                # The server is gone (killed) or the request timed out: not acknowledged.
                if stop.is_set():
                    return
                time.sleep(0.05)


def _open_as_at_start_up(db: Path) -> None:
    """What ``optimizer serve`` does to the store before it listens: open, migrate to head."""
    from optimizer.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{db.as_posix()}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def _stored(db: Path) -> tuple[set[str], set[int], set[str], set[str], str]:
    """What the store holds: lead external ids, consent ids, event keys, suppressed phones'
    STOP keys, and ``PRAGMA integrity_check``."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        leads = {row[0] for row in conn.execute("SELECT external_id FROM leads")}
        consents = {int(row[0]) for row in conn.execute("SELECT id FROM consents")}
        events = {row[0] for row in conn.execute("SELECT idempotency_key FROM events")}
        # A STOP must have suppressed its number: the lead's phone has a suppress record.
        suppressed = {
            row[0]
            for row in conn.execute(
                "SELECT e.idempotency_key FROM events e JOIN leads l ON l.id = e.lead_id "
                "WHERE e.type = 'inbound' AND EXISTS (SELECT 1 FROM suppressions s "
                "WHERE s.phone_e164 = l.phone_e164 AND s.action = 'suppress')"
            )
        }
        integrity = "; ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()
    return leads, consents, events, suppressed, integrity


@dataclass(frozen=True)
class CrashRound:
    round_no: int
    load_seconds: float
    requests: int
    acknowledged: int
    acknowledged_leads: int
    acknowledged_consents: int
    acknowledged_events: int
    acknowledged_opt_outs: int
    missing: int
    opt_outs_not_suppressed: int
    integrity: str
    restart_seconds: float


def run_crash(
    var_dir: Path,
    *,
    clients: int = 4,
    load_seconds: float = 3.0,
    rounds: int = 1,
    restart: bool = True,
    key: str | None = None,
    say: Callable[[str], None] = print,
) -> list[CrashRound]:
    """``rounds`` times: load with ``clients`` writer threads for ``load_seconds``, kill -9,
    restart on the same store, and compare what was acknowledged with what is stored.

    ``restart=False`` (one round only) replaces the server's restart with what it does to the
    store before it serves (open it, recover the write-ahead log, migrate to head), in process:
    the same check, without the seconds a server start costs. ``key``: an admin key already in
    the store (default: the one :func:`experiments.live_server.prepare_server` made)."""
    if not restart and rounds != 1:
        raise ValueError(f"rounds={rounds} without restart (one round expected)")
    server = live_server.prepare_server(var_dir, extra_env=SERVER_ENV, ready_path="/readyz")
    key = key or server.keys["admin"]
    db = var_dir / "optimizer.db"
    results: list[CrashRound] = []
    all_ack = Acknowledged()
    server.start(ready_timeout=120)
    try:
        for round_no in range(1, rounds + 1):
            ack = Acknowledged()
            stop = threading.Event()
            threads = [
                threading.Thread(
                    target=_writer, args=(server.base_url, key, w, round_no, ack, stop), daemon=True
                )
                for w in range(clients)
            ]
            for thread in threads:
                thread.start()
            time.sleep(load_seconds)
            server.kill()  # mid-load: requests are in flight
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            if restart:
                restart_s = server.start(ready_timeout=120)
            else:
                started = time.monotonic()
                _open_as_at_start_up(db)
                restart_s = time.monotonic() - started
            for name in ("leads", "consents", "events", "opt_outs"):
                getattr(all_ack, name).update(getattr(ack, name))
            leads, consents, events, suppressed, integrity = _stored(db)
            missing = (
                len(all_ack.leads - leads)
                + len(all_ack.consents - consents)
                + len(all_ack.events - events)
            )
            not_suppressed = len(all_ack.opt_outs - suppressed)
            result = CrashRound(
                round_no=round_no,
                load_seconds=load_seconds,
                requests=ack.requests,
                acknowledged=ack.total(),
                acknowledged_leads=len(ack.leads),
                acknowledged_consents=len(ack.consents),
                acknowledged_events=len(ack.events),
                acknowledged_opt_outs=len(ack.opt_outs),
                missing=missing,
                opt_outs_not_suppressed=not_suppressed,
                integrity=integrity,
                restart_seconds=restart_s,
            )
            say(
                f"round {round_no}: {ack.requests} requests, {ack.total()} writes acknowledged, "
                f"killed, {'restarted' if restart else 'reopened'} in {restart_s:.1f} s; missing {missing}, integrity {integrity}"
            )
            results.append(result)
    finally:
        server.stop()
    return results
