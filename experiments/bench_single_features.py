"""Benchmark of one lead's lead-score features: the pandas loader against the single-lead path.

Figures: median and p90 ms per lead of ``load_lead_features(lead_ids=[id])`` and of
``lead_feature_row`` over up to ``--leads`` leads of a store (each with its real event history),
the ratio, and how many rows differ (must be 0). The store is the demo's (``prepare_store``), e.g.

    .venv/bin/python -c "from pathlib import Path; from optimizer.demo.runner import \
DemoOptions, demo_settings, prepare_store; prepare_store(DemoOptions(var_dir=Path('/tmp/fastfeat'), \
leads=1, days=1, history_leads=1500), demo_settings(Path('/tmp/fastfeat')), print)"
    .venv/bin/python -m experiments.bench_single_features --var-dir /tmp/fastfeat
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optimizer.demo.runner import demo_settings
from optimizer.features.single import lead_feature_row
from optimizer.features.store import load_lead_features
from optimizer.store.db import make_engine, session_factory
from optimizer.store.models import Event, Lead


def _same(a: dict[str, object], b: dict[str, object]) -> bool:
    if list(a) != list(b):
        return False
    for key, x in a.items():
        y = b[key]
        if type(x) is not type(y):
            return False
        both_nan = isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)
        if not both_nan and x != y:
            return False
    return True


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _pandas_row(session: Session, lead_id: int, as_of: dt.datetime) -> dict[str, object]:
    """What ``LoadedModels.score_one`` did before the single-lead path."""
    return load_lead_features(session, lead_ids=[lead_id], as_of=as_of).iloc[0].to_dict()


def _times(call: Callable[[int], object], ids: list[int], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        for lead_id in ids:
            start = time.perf_counter()
            call(lead_id)
            out.append((time.perf_counter() - start) * 1000.0)
    return out


def run(session: Session, *, leads: int, repeats: int) -> None:
    latest = session.execute(select(func.max(Event.occurred_at))).scalar_one()
    as_of = latest + dt.timedelta(hours=1)
    ids = list(session.execute(select(Lead.id).order_by(Lead.id).limit(leads)).scalars())
    events = session.execute(
        select(func.count()).select_from(Event).where(Event.lead_id.in_(ids))
    ).scalar_one()
    differ = 0
    for lead_id in ids:  # warm both paths (statement caches, imports) and check equality
        fast = lead_feature_row(session, lead_id=lead_id, as_of=as_of)
        differ += not _same(_pandas_row(session, lead_id, as_of), fast)
    # Separate passes, so that each path runs warm, as it would in a server doing only it.
    before = _times(lambda i: _pandas_row(session, i, as_of), ids, repeats)
    after = _times(lambda i: lead_feature_row(session, lead_id=i, as_of=as_of), ids, repeats)
    print(
        f"leads: {len(ids)} ({events} events, {events / max(len(ids), 1):.1f} per lead), "
        f"as_of {as_of.isoformat()}, {repeats} repeats"
    )
    med_before, med_after = statistics.median(before), statistics.median(after)
    print(
        f"load_lead_features([id]).iloc[0].to_dict(): median {med_before:.3f} ms, "
        f"p90 {_quantile(before, 0.9):.3f} ms"
    )
    print(
        f"lead_feature_row:                            median {med_after:.3f} ms, "
        f"p90 {_quantile(after, 0.9):.3f} ms"
    )
    print(f"speed-up (median): {med_before / med_after:.1f}x; rows that differ: {differ}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--var-dir", type=Path, default=Path("/tmp/fastfeat"))
    parser.add_argument("--leads", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    settings = demo_settings(args.var_dir)
    sessions = session_factory(make_engine(settings.database_url))
    with sessions() as session:
        run(session, leads=args.leads, repeats=args.repeats)


if __name__ == "__main__":
    main()
