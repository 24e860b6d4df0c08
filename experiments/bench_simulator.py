"""Benchmark the simulator: the bulk path (100,000 leads x 30 days) and the interactive loop.

.venv/bin/python -m experiments.bench_simulator [--leads 100000] [--days 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import numpy as np

from optimizer.simulation import (
    Outcome,
    SendRequest,
    SimConfig,
    SimLead,
    World,
    run_world,
    simulate_cadence,
)

START = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


class FirstTextEngine:
    """Texts each consented lead once, at the next legal time per the world's own checker."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.queue: list[SendRequest] = []

    def register_lead(self, lead: SimLead, now: dt.datetime) -> None:
        if not lead.consent_given:
            return
        pop, i = self.world.population, self.world.lead_index(lead.external_id)
        t = self.world.checker.next_legal(
            pop.area_idx[[i]], pop.cand_zones[[i]], np.array([int(now.timestamp()) + 60])
        )
        self.queue.append(
            SendRequest(
                lead.external_id, dt.datetime.fromtimestamp(int(t[0]), dt.UTC), "personal", "hi"
            )
        )

    def due_sends(self, now: dt.datetime, until: dt.datetime) -> list[SendRequest]:
        due = [r for r in self.queue if r.at < until]
        self.queue = [r for r in self.queue if r.at >= until]
        return due

    def observe(self, outcome: Outcome) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--loop-leads", type=int, default=3000)
    parser.add_argument("--loop-days", type=int, default=7)
    args = parser.parse_args()
    t0 = time.perf_counter()
    world = World.create(
        SimConfig(seed=1, history_leads=0), start=START, days=args.days, arrivals=args.leads
    )
    created = time.perf_counter() - t0
    report = simulate_cadence(world)
    bulk = time.perf_counter() - t0
    print(
        f"bulk: {args.leads:,} leads x {args.days} days: world {created:.2f} s, policy {report.seconds:.2f} s, total {bulk:.2f} s"
    )
    print(
        f"  texts {report.texts:,}  reply rate {report.reply_rate:.1%}  opt-outs {report.opt_out_rate:.1%} of recipients  violations {sum(report.violations.values())}"
    )
    t1 = time.perf_counter()
    small = World.create(
        SimConfig(seed=1, history_leads=0),
        start=START,
        days=args.loop_days,
        arrivals=args.loop_leads,
    )
    loop = run_world(small, FirstTextEngine(small), start=START, days=args.loop_days)
    looped = time.perf_counter() - t1
    ticks = args.loop_days * 24 * 12
    print(
        f"loop: {args.loop_leads:,} leads x {args.loop_days} days, {ticks:,} ticks of 5 min: {looped:.2f} s ({looped / ticks * 1e3:.2f} ms/tick)"
    )
    print(f"  texts {loop.texts_sent:,}  replies {loop.replies}  violations {loop.violation_count}")
    print(
        json.dumps(
            {
                "bulk_seconds": round(bulk, 2),
                "bulk_leads": args.leads,
                "bulk_days": args.days,
                "loop_seconds": round(looped, 2),
                "loop_leads": args.loop_leads,
                "loop_days": args.loop_days,
            }
        )
    )


if __name__ == "__main__":
    main()
