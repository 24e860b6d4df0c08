"""How long the marketer reports take on a store of a given size.

    .venv/bin/python -m experiments.bench_reports --leads 3000 --repeat 5

Fills a fresh SQLite store with the test factory's world (a 3-variant experiment, four weeks of
sends, replies, conversions, opt-outs and deferrals), then prints the median time of each report
function and of each page rendered through the app (in process, TestClient).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _median_ms(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_ROOT))

    from fastapi.testclient import TestClient
    from sqlalchemy import func, select

    import api.app
    from optimizer import reports
    from optimizer.ingest.keys import create_key
    from optimizer.settings import Settings
    from optimizer.store.db import make_engine, session_factory, upgrade
    from optimizer.store.models import Decision, Event
    from tests.reports.factory import fill_store

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(var_dir=Path(scratch) / "var")
        engine = make_engine(settings.resolved_database_url())
        upgrade(engine)
        sessions = session_factory(engine)
        start = time.perf_counter()
        with sessions() as session:
            world = fill_store(session, leads=args.leads, days=args.days)
            key = create_key(session, scopes=["read"], name="bench", now=dt.datetime.now(dt.UTC))
            session.commit()
            events = session.scalar(select(func.count()).select_from(Event))
            decisions = session.scalar(select(func.count()).select_from(Decision))
        print(
            f"store: {args.leads} leads, {events} events, {decisions} decisions "
            f"(filled in {time.perf_counter() - start:.1f} s)"
        )
        period = reports.Period(start=world.start, end=world.end)
        lead_id = world.lead_ids[1]
        with sessions() as session:
            cases: dict[str, Callable[[], object]] = {
                "experiment_report": lambda: reports.experiment_report(
                    session, experiment_id=world.experiment_id
                ),
                "experiment_list": lambda: reports.experiment_list(session),
                "list_health": lambda: reports.list_health(session, period=period),
                "segment_breakdown": lambda: reports.segment_breakdown(session, period=period),
                "attribution": lambda: reports.attribution(session, period=period),
                "lead_report": lambda: reports.lead_report(session, lead_id=lead_id),
            }
            print(f"report functions, median of {args.repeat} (ms):")
            for name, function in cases.items():
                print(f"  {name:<20} {_median_ms(function, args.repeat):8.1f}")
        engine.dispose()

        api.app._OPTIONAL_ROUTERS = ("ui", "reports")
        if hasattr(api.app, "_load_models"):  # the pages never use the decision models
            api.app._load_models = lambda state: None  # type: ignore[attr-defined]
        with TestClient(api.app.create_app(settings)) as client:
            client.post("/ui/login", data={"key": key.plaintext})
            pages = {
                "/ui/experiments": "/ui/experiments",
                "/ui/experiments/{id}": f"/ui/experiments/{world.experiment_id}",
                "/ui/health": "/ui/health",
                "/ui/segments": "/ui/segments",
                "/ui/attribution": "/ui/attribution",
                "/ui/leads/{id}": f"/ui/leads/{lead_id}",
            }
            print(f"pages over HTTP in process, median of {args.repeat} (ms):")
            for name, path in pages.items():

                def fetch(path: str = path) -> None:
                    response = client.get(path)
                    assert response.status_code == 200, (path, response.status_code)

                print(f"  {name:<22} {_median_ms(fetch, args.repeat):8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
