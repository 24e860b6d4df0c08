"""Benchmark one lead's send-time probabilities: ``LoadedModels.slot_probabilities`` (72 slots)
and its parts, median ms over leads of a store, against the pool path (``load_lead_features``).

Make a store first (history + trained send-time champion), e.g.:
.venv/bin/python -c "from pathlib import Path; from optimizer.demo.runner import DemoOptions, \
demo_settings, prepare_store; prepare_store(DemoOptions(var_dir=Path('/tmp/fastst'), leads=1, \
days=1, history_leads=1500), demo_settings(Path('/tmp/fastst')), print)"
.venv/bin/python -m experiments.bench_send_time_single --var-dir /tmp/fastst [--leads 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from optimizer.decide.models import LoadedModels
from optimizer.demo.runner import demo_settings
from optimizer.models.send_time import SendTimeModel
from optimizer.models.send_time_single import send_time_inputs, send_time_row
from optimizer.models.send_time_store import load_lead_features
from optimizer.store.db import make_engine, session_factory
from optimizer.store.models import Event, Lead


def _median_ms(ids: list[int], call: Callable[[int], Any]) -> float:
    for lead_id in ids[:5]:  # warm caches (slot offsets, statement cache)
        call(lead_id)
    times = []
    for lead_id in ids:
        t0 = time.perf_counter()
        call(lead_id)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--var-dir", type=Path, default=Path("/tmp/fastst"))
    parser.add_argument("--leads", type=int, default=200)
    args = parser.parse_args()
    settings = demo_settings(args.var_dir)
    model = SendTimeModel.load(settings)
    models = LoadedModels(settings=settings, scorer=None, send_time=model)
    engine = make_engine(settings.resolved_database_url())
    with session_factory(engine)() as session:
        now = session.scalar(select(func.max(Event.occurred_at)))
        assert now is not None
        ids = list(session.scalars(select(Lead.id).order_by(Lead.id).limit(args.leads)))
        leads = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(ids)))}
        first = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        slots = [first + dt.timedelta(hours=h) for h in range(72)]
        zone = "America/Chicago"

        def pool_path(lead_id: int) -> np.ndarray:  # what slot_probabilities did before
            features, _ = load_lead_features(session, lead_ids=[lead_id], as_of=now)
            return np.asarray(model.score_slots(features, slots, zone))[0]

        def frame_path(lead_id: int) -> np.ndarray:
            features, _ = send_time_row(session, lead_id=lead_id, as_of=now)
            return np.asarray(model.score_slots(features, slots, zone))[0]

        def rows_path(lead_id: int) -> np.ndarray:
            rows, _ = send_time_inputs(session, lead_id=lead_id, as_of=now)
            return np.asarray(model.score_slots(rows, slots, zone))[0]

        def service(lead_id: int) -> np.ndarray:
            return models.slot_probabilities(
                session, lead=leads[lead_id], slots=slots, zone=zone, now=now
            )

        same = all(np.array_equal(pool_path(i), service(i)) for i in ids)
        print(f"store {args.var_dir}: {len(ids)} leads, model {model.version}, as of {now}")
        print(f"identical probabilities (pool path vs slot_probabilities): {same}")
        figures = {
            "load_lead_features (features only)": lambda i: load_lead_features(
                session, lead_ids=[i], as_of=now
            ),
            "send_time_row (features only)": lambda i: send_time_row(session, lead_id=i, as_of=now),
            "send_time_inputs (features only)": lambda i: send_time_inputs(
                session, lead_id=i, as_of=now
            ),
            "pool path + score_slots (before)": pool_path,
            "send_time_row + score_slots": frame_path,
            "send_time_inputs + score_slots": rows_path,
            "LoadedModels.slot_probabilities": service,
        }
        for name, call in figures.items():
            print(f"{name:40s} median {_median_ms(ids, call):6.2f} ms")
    engine.dispose()


if __name__ == "__main__":
    main()
