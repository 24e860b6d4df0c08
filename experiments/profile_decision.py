"""CPU per single-lead decision, in process, on a copy of a demo store.

Two loops over the demo's leads with history (its running experiment, ``as_of`` in the
daytime and in the quiet hours, as ``experiments.bench_api --store-dir`` asks):

- ``service``: what the route's worker thread does (decide, append to the decision log, build
  and serialise the response), called directly;
- ``app``: POST /v1/next-best-action through the real app (middlewares, auth, validation) with
  Starlette's TestClient (its client side is counted too: compare runs, not absolute figures).

Per loop: median and mean ``time.process_time`` ms per request (CPU of the whole process, so
waiting for a core the machine's other jobs hold does not count), and a digest of every
decision's output except its random id, so that a change can be shown not to alter a decision.
``--profile`` prints a cProfile of the service loop instead (top functions by cumulative time).

    .venv/bin/python -m experiments.profile_decision --store-dir /tmp/perfdemo [--requests 400]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import json
import pstats
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from optimizer.demo.runner import _keys, demo_settings
from optimizer.store.db import make_engine, session_factory
from optimizer.store.models import Event, Experiment

# The decision times of experiments.bench_api's store rounds.
AS_OF = {
    "daytime": dt.datetime(2026, 10, 15, 17, 0, tzinfo=dt.UTC),
    "quiet_hours": dt.datetime(2026, 10, 16, 7, 0, tzinfo=dt.UTC),
}


def copy_store(source: Path, work: Path) -> None:
    if not (source / "optimizer.db").exists():
        raise SystemExit(f"--store-dir {source}: no optimizer.db there (run 'optimizer demo')")
    work.mkdir(parents=True, exist_ok=True)
    for name in ("optimizer.db", "optimizer.db-wal", "mlflow.db"):
        if (source / name).exists():
            shutil.copy2(source / name, work / name)
    if (source / "mlartifacts").exists():
        shutil.copytree(source / "mlartifacts", work / "mlartifacts")


def _store_facts(url: str, limit: int) -> tuple[int, list[int]]:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        experiment = session.scalar(
            select(Experiment.id).where(Experiment.status == "running").order_by(Experiment.id)
        )
        leads = list(
            session.scalars(select(Event.lead_id).distinct().order_by(Event.lead_id).limit(limit))
        )
    engine.dispose()
    if experiment is None:
        raise SystemExit("no running experiment in the store")
    return experiment, leads


def _digest_of(body: dict[str, Any], digest: Any) -> None:
    body = {k: v for k, v in body.items() if k != "decision_id"}
    digest.update(json.dumps(body, sort_keys=True, default=str).encode())


def _measure(label: str, calls: list[Callable[[], dict[str, Any]]], warm: int) -> tuple[float, str]:
    for call in calls[:warm]:
        call()
    digest = hashlib.sha256()
    cpu: list[float] = []
    for call in calls:
        t0 = time.process_time()
        body = call()
        cpu.append(time.process_time() - t0)
        _digest_of(body, digest)
    median = statistics.median(cpu) * 1e3
    mean = statistics.fmean(cpu) * 1e3
    print(
        f"{label}: {len(cpu)} requests, CPU median {median:.2f} ms, mean {mean:.2f} ms; "
        f"outputs sha256 {digest.hexdigest()[:16]}",
        flush=True,
    )
    return median, digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-dir", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=400, help="per as_of and loop")
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument(
        "--loops", nargs="+", choices=("service", "app"), default=["service", "app"]
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the service loop (the app's server side runs in another thread)",
    )
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--dump", default=None, help="also write the raw profile here")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.routes.decisions import _next_best_action
    from api.schemas import NextBestActionIn

    with tempfile.TemporaryDirectory(prefix="profile-decision-") as tmp:
        work = Path(tmp)
        copy_store(args.store_dir, work)
        settings = demo_settings(work)
        experiment, leads = _store_facts(settings.resolved_database_url(), args.leads)
        keys = _keys(settings)
        app = create_app(settings)
        with TestClient(app) as client:
            state = app.state.optimizer
            client.headers["Authorization"] = f"Bearer {keys['admin']}"

            def bodies(as_of: dt.datetime) -> list[dict[str, Any]]:
                return [
                    {
                        "lead_id": leads[i % len(leads)],
                        "experiment_id": experiment,
                        "as_of": as_of.isoformat(),
                    }
                    for i in range(args.requests)
                ]

            def service_call(body: dict[str, Any]) -> Callable[[], dict[str, Any]]:
                parsed = NextBestActionIn.model_validate(body)
                assert parsed.as_of is not None

                def call() -> dict[str, Any]:
                    response = _next_best_action(state, parsed, parsed.as_of)  # type: ignore[arg-type]
                    return json.loads(bytes(response.body))  # type: ignore[no-any-return]

                return call

            def app_call(body: dict[str, Any]) -> Callable[[], dict[str, Any]]:
                def call() -> dict[str, Any]:
                    response = client.post("/v1/next-best-action", json=body)
                    assert response.status_code == 200, response.text[:300]
                    return response.json()  # type: ignore[no-any-return]

                return call

            if args.profile:
                calls = [service_call(b) for label in AS_OF for b in bodies(AS_OF[label])]
                for call in calls[:20]:
                    call()
                profiler = cProfile.Profile()
                profiler.enable()
                for call in calls:
                    call()
                profiler.disable()
                if args.dump:
                    profiler.dump_stats(args.dump)
                stats = pstats.Stats(profiler)
                stats.sort_stats(args.sort).print_stats(args.top)
                return
            summary: dict[str, Any] = {}
            for loop in args.loops:
                make = service_call if loop == "service" else app_call
                for label, as_of in AS_OF.items():
                    median, digest = _measure(
                        f"{loop}, {label}", [make(b) for b in bodies(as_of)], warm=20
                    )
                    summary[f"{loop}_{label}"] = {"cpu_ms_median": median, "digest": digest}
            print(json.dumps(summary))


if __name__ == "__main__":
    main()
