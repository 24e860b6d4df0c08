"""Benchmark send-time scoring: 72 slots for one lead (median) and a pool of 10,000 x 72.

.venv/bin/python -m experiments.bench_send_time [--history-leads 1500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.models.send_time import choose_slot
from optimizer.models.send_time_features import slot_times
from optimizer.settings import Settings
from optimizer.simulation import SimConfig, World
from optimizer.simulation.history import write_history
from optimizer.store.db import make_engine, session_factory, transaction, upgrade
from training.train_send_time import fit_send_time, load_frames, send_rows

NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history-leads", type=int, default=1500)
    parser.add_argument("--pool", type=int, default=10_000)
    args = parser.parse_args()
    world = World.create(
        SimConfig(seed=3, history_leads=args.history_leads), start=NOW, days=0, arrivals=0
    )
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'b.db'}")
        upgrade(engine)
        t0 = time.perf_counter()
        with transaction(session_factory(engine)) as session:
            summary = write_history(
                session, world, leads=None, settings=Settings(var_dir=Path(tmp)), now=NOW
            )
        written = time.perf_counter() - t0
        with transaction(session_factory(engine)) as session:
            leads, events = load_frames(session)
        engine.dispose()
    rows = send_rows(leads, events, attribution_hours=72, now=NOW)
    t1 = time.perf_counter()
    fit = fit_send_time(rows, seed=0)
    trained = time.perf_counter() - t1
    model = fit.model
    print(f"write_history: {summary.leads:,} leads, {summary.events:,} events in {written:.1f} s")
    print(
        f"fit: {len(rows.label):,} sends in {trained:.1f} s, holdout AUC {fit.metrics['holdout_roc_auc']:.3f} (priors {fit.metrics['priors_roc_auc']:.3f})"
    )
    slots = slot_times(NOW, 72)
    feats = rows.features
    one = feats.iloc[[0]]
    rng = np.random.default_rng(0)
    mask = np.ones(72, dtype=bool)
    times = []
    for i in range(300):
        lead = feats.iloc[[i % len(feats)]]
        start = time.perf_counter()
        probs = model.score_slots(lead, slots, "America/Chicago")
        choose_slot(rng, probs[0], mask)
        times.append(time.perf_counter() - start)
    single = statistics.median(times[20:]) * 1e3
    pool = pd.concat([feats] * (args.pool // len(feats) + 1), ignore_index=True).iloc[: args.pool]
    zones = np.where(
        np.arange(len(pool)) % 3 == 0,
        "America/New_York",
        np.where(np.arange(len(pool)) % 3 == 1, "America/Chicago", "America/Los_Angeles"),
    )
    pool_times = []
    for _ in range(3):
        start = time.perf_counter()
        scores = model.score_slots(pool, slots, zones)
        pool_times.append(time.perf_counter() - start)
    del one
    print(f"one lead x 72 slots (score + choose): median {single:.2f} ms")
    print(
        f"pool {len(pool):,} x 72 slots: median {statistics.median(pool_times):.2f} s (shape {scores.shape})"
    )
    print(
        json.dumps(
            {
                "single_ms_median": round(single, 3),
                "pool_seconds_median": round(statistics.median(pool_times), 3),
                "pool": len(pool),
                "write_history_seconds": round(written, 1),
                "events": summary.events,
            }
        )
    )


if __name__ == "__main__":
    main()
