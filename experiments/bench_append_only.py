"""Cost of the append-only insert guard (SQLite): events inserted per second with and without
the BEFORE INSERT triggers of migration 0002. Prints a table, then one JSON line.

    python -m experiments.bench_append_only [--rows 20000] [--batch 100]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, text

from optimizer.store.db import make_engine, upgrade
from optimizer.store.models import Event, Lead


def _run(path: Path, *, guarded: bool, rows: int, batch: int) -> float:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    with engine.begin() as conn:
        if not guarded:
            conn.execute(text("DROP TRIGGER events_no_replace"))
        conn.execute(
            insert(Lead),
            [
                {
                    "external_id": "L1",
                    "phone_e164": "+13055550142",
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
    start = time.perf_counter()
    for first in range(0, rows, batch):
        with engine.begin() as conn:
            conn.execute(
                insert(Event),
                [
                    {
                        "idempotency_key": f"k{i}",
                        "lead_id": 1,
                        "type": "sent",
                        "channel": "sms",
                        "occurred_at": now,
                        "recorded_at": now,
                        "marketing": True,
                    }
                    for i in range(first, min(first + batch, rows))
                ],
            )
    elapsed = time.perf_counter() - start
    engine.dispose()
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for repeat in range(2):
            for guarded in (False, True):
                rate = _run(
                    Path(tmp) / f"{guarded}-{repeat}.db",
                    guarded=guarded,
                    rows=args.rows,
                    batch=args.batch,
                )
                key = "guarded" if guarded else "unguarded"
                results[key] = max(results.get(key, 0.0), rate)
    change = results["guarded"] / results["unguarded"] - 1.0
    print(f"{'events/s without guard':<28}{results['unguarded']:>12,.0f}")
    print(f"{'events/s with guard':<28}{results['guarded']:>12,.0f}")
    print(f"{'change':<28}{change:>+12.1%}")
    print(
        json.dumps(
            {
                "rows": args.rows,
                "batch": args.batch,
                "unguarded_per_s": round(results["unguarded"]),
                "guarded_per_s": round(results["guarded"]),
                "change": round(change, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
