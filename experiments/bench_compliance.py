"""Benchmark of the compliance gate.

    .venv/bin/python -m experiments.bench_compliance [--rows 20000] [--leads 10000]

Prints: the allowed-mask over 72 hourly slots (median / p95 per call, target median <= 0.5 ms),
``evaluate`` for an allowed and a denied send (with the next-allowed search), audit throughput
(rows/s through the CLI, target >= 5,000/s) and building 10,000 contexts from a SQLite store.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from optimizer.compliance import (
    ConsentEntry,
    GateContext,
    allowed_mask,
    evaluate,
    policy_from_settings,
)
from optimizer.phones import parse_phone
from optimizer.settings import Settings

BRAND = "Acme Home Services"
MESSAGE = f"{BRAND}: your tune-up is 20% off this week. Reply STOP to opt out."
START = dt.datetime(2026, 12, 1, 14, 0, tzinfo=dt.UTC)


def _timings(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    for _ in range(50):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e3, float(np.percentile(samples, 95)) * 1e3


def bench_mask(repeat: int) -> None:
    settings = Settings(brand_name=BRAND)
    grant = (ConsentEntry("grant", START - dt.timedelta(days=90), BRAND),)
    slots_list = [START + dt.timedelta(hours=h) for h in range(72)]
    slots_np = np.array([np.datetime64(s.replace(tzinfo=None), "ns") for s in slots_list])
    cases = {
        "FL 305, house, 2 prior sends": GateContext(
            phone=parse_phone("+13055550142"),
            send_at=START,
            message=MESSAGE,
            policy=policy_from_settings(settings, "house"),
            consents=grant,
            prior_sends=(START - dt.timedelta(days=9), START - dt.timedelta(days=20)),
            last_reply_at=START - dt.timedelta(days=1),
        ),
        "850 split zone + address AL (Sunday+holiday bans), legal": GateContext(
            phone=parse_phone("+18505550142"),
            send_at=START,
            message=MESSAGE,
            policy=policy_from_settings(settings, "legal"),
            consents=grant,
            address_state="AL",
            prior_sends=(START - dt.timedelta(hours=5),),
        ),
    }
    for name, ctx in cases.items():
        for label, slots in (("list[datetime]", slots_list), ("datetime64[ns]", slots_np)):
            med, p95 = _timings(lambda c=ctx, s=slots: allowed_mask(c, s), repeat)
            print(f"allowed_mask 72 slots [{name}; {label}]: median {med:.3f} ms, p95 {p95:.3f} ms")
    ctx = cases["FL 305, house, 2 prior sends"]
    med, p95 = _timings(lambda: evaluate(ctx), repeat)
    print(f"evaluate (allowed): median {med:.3f} ms, p95 {p95:.3f} ms")
    night = GateContext(
        phone=ctx.phone,
        send_at=START.replace(hour=2),
        message=MESSAGE,
        policy=ctx.policy,
        consents=grant,
    )
    med, p95 = _timings(lambda: evaluate(night), repeat)
    print(
        f"evaluate (denied at night, next_allowed_at search): median {med:.3f} ms, p95 {p95:.3f} ms"
    )


def _plan(path: Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    areas = [
        "305",
        "850",
        "214",
        "915",
        "205",
        "405",
        "212",
        "801",
        "401",
        "502",
        "208",
        "206",
        "504",
        "410",
    ]
    lines = [
        "phone,send_at,message,state,consent_at,prior_sends,last_reply_at,first_in_sequence,dnc"
    ]
    for i in range(rows):
        area = areas[int(rng.integers(len(areas)))]
        phone = f"+1{area}{int(rng.integers(200, 999))}{int(rng.integers(1000, 9999))}"
        send = START + dt.timedelta(minutes=int(rng.integers(0, 14 * 24 * 60)))
        offset = dt.timezone(dt.timedelta(hours=-5))
        prior = ";".join(
            (send - dt.timedelta(hours=float(h))).isoformat()
            for h in rng.uniform(1, 400, int(rng.integers(0, 4)))
        )
        state = ["", "", "", "TX", "FL", "AL"][int(rng.integers(6))]
        consent = "" if rng.random() < 0.05 else (send - dt.timedelta(days=30)).isoformat()
        lines.append(
            f"{phone},{send.astimezone(offset).isoformat()},{MESSAGE},{state},{consent},{prior},,"
            f"{'true' if not prior else 'false'},{'true' if rng.random() < 0.03 else 'false'}"
        )
        if i % 997 == 0:
            lines.append(f"{phone},not a time,{MESSAGE},,,,,,")
    path.write_text("\n".join(lines) + "\n")


def bench_audit(rows: int) -> None:
    from optimizer.cli import main

    print(f"load average before the audit runs: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        plan, out = Path(tmp) / "plan.csv", Path(tmp) / "out.csv"
        _plan(plan, rows, seed=7)
        total = sum(1 for _ in plan.open()) - 1
        # Warm up: the first CLI call imports every command module (not the audit's cost).
        warm = Path(tmp) / "warm.csv"
        warm.write_text("".join(plan.open().readlines()[:2]))
        wall0, cpu0 = time.perf_counter(), _cpu()
        assert main(["compliance", "audit", str(warm), "-o", str(out)]) == 0
        print(
            f"CLI start-up (first call, 1 row): {time.perf_counter() - wall0:.2f} s wall, {_cpu() - cpu0:.2f} CPU-s"
        )
        for policy, workers in (("legal", "1"), ("house", "1"), ("legal", "0"), ("house", "0")):
            parse_phone.cache_clear()  # every run parses its phones afresh
            wall0, cpu0 = time.perf_counter(), _cpu()
            code = main(
                [
                    "compliance",
                    "audit",
                    str(plan),
                    "--policy",
                    policy,
                    "--workers",
                    workers,
                    "-o",
                    str(out),
                ]
            )
            wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
            assert code == 0
            label = "1 process" if workers == "1" else f"{os.cpu_count()} processes"
            print(
                f"audit --policy {policy} ({label}): {total} rows in {wall:.2f} s wall = "
                f"{total / wall:,.0f} rows/s; {cpu:.2f} CPU-s = {total / cpu:,.0f} rows per CPU-second"
            )


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the audit workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bench_store(leads: int) -> None:
    from optimizer.compliance.store_context import build_contexts
    from optimizer.store.db import make_engine, session_factory, transaction, upgrade
    from optimizer.store.models import Consent, Event, Lead

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        factory = session_factory(engine)
        with transaction(factory) as session:
            rows = [
                Lead(
                    external_id=f"l{i}",
                    phone_e164=f"+1212555{i % 10000:04d}",
                    attributes={},
                    created_at=START,
                    updated_at=START,
                )
                for i in range(leads)
            ]
            session.add_all(rows)
            session.flush()
            for lead in rows[::2]:
                session.add(
                    Consent(
                        kind="grant",
                        lead_id=lead.id,
                        phone_e164=lead.phone_e164,
                        brand=BRAND,
                        occurred_at=START - dt.timedelta(days=9),
                        recorded_at=START,
                    )
                )
                session.add(
                    Event(
                        idempotency_key=f"e{lead.id}",
                        lead_id=lead.id,
                        type="sent",
                        channel="sms",
                        occurred_at=START - dt.timedelta(days=8),
                        recorded_at=START,
                        marketing=True,
                    )
                )
        with transaction(factory) as session:
            loaded = list(session.query(Lead))
            t0 = time.perf_counter()
            contexts = build_contexts(
                session,
                leads=loaded,
                message=MESSAGE,
                send_at=START,
                now=START,
                settings=Settings(brand_name=BRAND),
                policy="house",
            )
            built = time.perf_counter() - t0
            t0 = time.perf_counter()
            slots = np.array(
                [
                    np.datetime64(START.replace(tzinfo=None), "ns") + np.timedelta64(h, "h")
                    for h in range(72)
                ]
            )
            masks = [allowed_mask(c, slots) for c in contexts.values()]
            masked = time.perf_counter() - t0
        engine.dispose()
        print(
            f"build_contexts for {leads} leads (SQLite): {built:.2f} s; allowed_mask x {leads}: {masked:.2f} s "
            f"({sum(int(m.any()) for m in masks)} leads with an open slot)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--leads", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3000)
    args = parser.parse_args()
    bench_mask(args.repeat)
    bench_audit(args.rows)
    bench_store(args.leads)


if __name__ == "__main__":
    main()
