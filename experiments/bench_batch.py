"""Benchmark of the batch decision: ``decide_batch`` over a pool of 10,000 leads (capacity 500,
a 3-variant Thompson experiment, trained champions, SQLite), the median of N runs in process and,
with ``--http``, over real HTTP (``POST /v1/next-best-action/batch`` on one uvicorn worker).

The store is the one ``experiments.bench_api`` builds (history, both models trained, a pool of
2,000 and one of 10,000 fresh leads with consent, an experiment 'bench'); ``--var-dir`` is reused
when it holds one, else it is prepared (a few minutes). ``--pool all`` decides over every lead of
the store instead (leads with histories: fewer leads share their send-time rows); ``--pool huge``
over 100,000 fresh leads (added to the store on first use, a few minutes). The output
digest (every decision but its random id) lets two versions of the code be compared on one store.
In process nothing is written; each HTTP run appends its decisions to the log.

    .venv/bin/python -m experiments.bench_batch [--var-dir var/bench] [--runs 5] [--http]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime as dt
import hashlib
import json
import pstats
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from experiments.bench_api import AS_OF, add_pool
from optimizer.bandits.store import create_experiment
from optimizer.decide.batch import decide_batch
from optimizer.decide.models import LoadedModels
from optimizer.decide.service import DecisionService
from optimizer.decide.types import BatchResult
from optimizer.demo.runner import DemoOptions, Server, _keys, demo_settings, prepare_store
from optimizer.demo.templates import DEMO_VARIANTS
from optimizer.settings import Settings
from optimizer.store.db import make_engine, session_factory, transaction
from optimizer.store.models import Experiment, Lead

EXPERIMENT = "bench"


def _pool_ids(settings: Settings, pool: str) -> list[int]:
    engine = make_engine(settings.resolved_database_url())
    try:
        with session_factory(engine)() as session:
            query = select(Lead.id).order_by(Lead.id)
            if pool in ("big", "huge"):
                query = query.where(Lead.external_id.like(f"{pool}-%"))
            return list(session.scalars(query))
    finally:
        engine.dispose()


def _experiment_id(settings: Settings) -> int | None:
    engine = make_engine(settings.resolved_database_url())
    try:
        with session_factory(engine)() as session:
            return session.scalar(
                select(Experiment.id).where(Experiment.status == "running").order_by(Experiment.id)
            )
    finally:
        engine.dispose()


def ensure_store(var_dir: Path, history_leads: int) -> tuple[Settings, int]:
    """(settings, experiment id): the store in ``var_dir``, prepared first if it has none."""
    settings = demo_settings(var_dir)
    if (var_dir / "optimizer.db").exists() and (var_dir / "mlflow.db").exists():
        experiment = _experiment_id(settings)
        if experiment is not None and _pool_ids(settings, "big"):
            return settings, experiment
    print(f"preparing a store in {var_dir} (history, training, pools, experiment)", flush=True)
    options = DemoOptions(var_dir=var_dir, leads=1, days=1, history_leads=history_leads)
    prepare_store(options, settings, print)
    url = settings.resolved_database_url()
    add_pool(url, 2000, seed=1, prefix="pool", brand=settings.brand_name)
    add_pool(url, 10_000, seed=2, prefix="big", brand=settings.brand_name)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        experiment = create_experiment(
            session,
            name=EXPERIMENT,
            metric="reply",
            policy="thompson",
            variants=list(DEMO_VARIANTS),
            control=None,
            params=None,
            attribution_hours=settings.attribution_hours,
            seed=0,
            now=dt.datetime.now(dt.UTC),  # as the API would stamp it
        ).id
    engine.dispose()
    return settings, experiment


def digest(result: BatchResult) -> str:
    """SHA-256 of every decision made (but its random id) and the counts of the rest."""
    records = [
        {k: v for k, v in dataclasses.asdict(r).items() if k != "decision_id"}
        for r in result.logged
    ]
    body = {"considered": result.considered, "not_selected": result.not_selected, "r": records}
    text = json.dumps(body, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def in_process(
    settings: Settings,
    *,
    lead_ids: list[int],
    experiment: int,
    capacity: int,
    runs: int,
    profile: bool,
) -> dict[str, Any]:
    engine = make_engine(settings.resolved_database_url())
    sessions = session_factory(engine)
    service = DecisionService(settings=settings, models=LoadedModels.load(settings), seed=0)

    def once() -> tuple[float, BatchResult]:
        with sessions() as session:
            t0 = time.perf_counter()
            result = decide_batch(
                service,
                session,
                lead_ids=lead_ids,
                capacity=capacity,
                horizon_hours=72,
                experiment_id=experiment,
                template=None,
                now=AS_OF,
            )
            return time.perf_counter() - t0, result

    warm, _ = once()  # imports, caches
    times = []
    for _ in range(runs):
        seconds, result = once()
        times.append(seconds)
    print(
        f"in process: {len(lead_ids):,} leads, capacity {capacity}: median "
        f"{statistics.median(times):.2f} s (runs {', '.join(f'{t:.2f}' for t in times)}; "
        f"first {warm:.2f}); selected {len(result.selected)}, not selected {result.not_selected}",
        flush=True,
    )
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        once()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    engine.dispose()
    return {
        "median": statistics.median(times),
        "runs": times,
        "first": warm,
        "selected": len(result.selected),
        "not_selected": result.not_selected,
        "digest": digest(result),
    }


def over_http(
    settings: Settings, *, lead_ids: list[int], experiment: int, capacity: int, runs: int
) -> dict[str, Any]:
    keys = _keys(settings)
    server = Server(settings, 0, workers=1)
    server.start()
    try:
        headers = {"Authorization": f"Bearer {keys['admin']}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as client:
            body = {
                "lead_ids": lead_ids,
                "capacity": capacity,
                "experiment_id": experiment,
                "as_of": AS_OF.isoformat(),
            }
            times = []
            for _ in range(runs + 1):  # the first one warms the worker up
                t0 = time.perf_counter()
                response = client.post("/v1/next-best-action/batch", json=body)
                times.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    raise SystemExit(
                        f"batch answered {response.status_code}: {response.text[:300]}"
                    )
    finally:
        server.stop()
    warm, times = times[0], times[1:]
    selected = len(response.json()["selected"])
    print(
        f"over HTTP: median {statistics.median(times):.2f} s (runs "
        f"{', '.join(f'{t:.2f}' for t in times)}; first {warm:.2f}); selected {selected}",
        flush=True,
    )
    return {"median": statistics.median(times), "runs": times, "first": warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--runs", type=int, default=5, help="timed runs in process")
    parser.add_argument("--http", action="store_true", help="also time it over real HTTP")
    parser.add_argument("--http-runs", type=int, default=3)
    parser.add_argument("--capacity", type=int, default=500)
    parser.add_argument(
        "--pool",
        choices=("big", "huge", "all"),
        default="big",
        help="big: 10,000 fresh leads; huge: 100,000 (added on first use); all: every lead",
    )
    parser.add_argument("--history-leads", type=int, default=6000, help="when preparing")
    parser.add_argument("--profile", action="store_true", help="cProfile one more run")
    args = parser.parse_args()
    settings, experiment = ensure_store(args.var_dir, args.history_leads)
    lead_ids = _pool_ids(settings, args.pool)
    if args.pool == "huge" and not lead_ids:
        print("adding a pool of 100,000 fresh leads with consent", flush=True)
        add_pool(
            settings.resolved_database_url(),
            100_000,
            seed=3,
            prefix="huge",
            brand=settings.brand_name,
        )
        lead_ids = _pool_ids(settings, args.pool)
    figures: dict[str, Any] = {
        "leads": len(lead_ids),
        "pool": args.pool,
        "capacity": args.capacity,
        "in_process_s": in_process(
            settings,
            lead_ids=lead_ids,
            experiment=experiment,
            capacity=args.capacity,
            runs=args.runs,
            profile=args.profile,
        ),
        "http_s": None,
    }
    if args.http:
        figures["http_s"] = over_http(
            settings,
            lead_ids=lead_ids,
            experiment=experiment,
            capacity=args.capacity,
            runs=args.http_runs,
        )
    print(json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
