"""What a contextual experiment's variant choice costs on a store with N sends (SQLite).

For a ``thompson`` and a ``contextual_thompson`` experiment with ``--sends`` confirmed, rewarded
sends each (leads over six verticals, three score bands): the median time of
``variant_chooser`` plus one choice (experiment, arms, policy; for the contextual one the
per-segment counts, reused while the arms' totals are unchanged), and of reading the
per-segment counts from the decision log (what a choice costs after the totals changed).

    .venv/bin/python -m experiments.bench_contextual_store --sends 1000 10000 50000
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select

from optimizer.bandits.contextual import LeadContext
from optimizer.bandits.experiment_store import load_arms
from optimizer.bandits.store import create_experiment, variant_chooser
from optimizer.store.db import make_engine, session_factory, upgrade
from optimizer.store.models import Decision, DecisionConfirmation, DecisionReward, Lead
from optimizer.store.segment_stats import segment_arm_counts

T0 = dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC)
VERTICALS = ("retail", "b2b", "healthcare", "education", "insurance", "home_services")
BANDS = ("hot", "warm", "cold")


def _median_ms(work: object, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run(sends: int, rounds: int, seed: int) -> dict[str, float]:
    directory = Path(tempfile.mkdtemp())
    engine = make_engine(f"sqlite:///{directory / 'store.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    rng = np.random.default_rng(seed)
    out: dict[str, float] = {"sends": sends}
    with sessions() as session:
        for policy in ("thompson", "contextual_thompson"):
            experiment = create_experiment(
                session,
                name=policy,
                metric="reply",
                policy=policy,
                variants=[("A", "a"), ("B", "b"), ("C", "c")],
                control=None,
                params=None,
                attribution_hours=72,
                seed=1,
                now=T0,
            )
            variant_ids = [v.id for v, _ in load_arms(session, experiment.id)]
            session.execute(
                insert(Lead),
                [
                    {
                        "external_id": f"{policy}-{i}",
                        "phone_e164": "+13055550142",
                        "attributes": {},
                        "source": "web_form",
                        "vertical": VERTICALS[i % len(VERTICALS)],
                        "created_at": T0,
                        "updated_at": T0,
                    }
                    for i in range(sends)
                ],
            )
            lead_ids = session.scalars(
                select(Lead.id).where(Lead.external_id.like(f"{policy}-%")).order_by(Lead.id)
            ).all()
            decisions, confirmations, rewards = [], [], []
            for i, lead_id in enumerate(lead_ids):
                decision_id = str(uuid.uuid4())
                variant_id = variant_ids[i % 3]
                decisions.append(
                    {
                        "id": decision_id,
                        "lead_id": lead_id,
                        "created_at": T0,
                        "as_of": T0,
                        "action": "send_now",
                        "reasons": [],
                        "allowed": True,
                        "compliance": {},
                        "model_versions": {},
                        "explanation": {},
                        "experiment_id": experiment.id,
                        "variant_id": variant_id,
                        "propensity": 1 / 3,
                        "segment": BANDS[i % 3],
                    }
                )
                confirmations.append(
                    {"decision_id": decision_id, "confirmed_at": T0, "allowed": True, "reasons": []}
                )
                rewards.append(
                    {
                        "decision_id": decision_id,
                        "metric": "reply",
                        "variant_id": variant_id,
                        "reward": float(rng.random() < 0.2),
                        "kind": "outcome",
                        "recorded_at": T0,
                    }
                )
            session.execute(insert(Decision), decisions)
            session.execute(insert(DecisionConfirmation), confirmations)
            session.execute(insert(DecisionReward), rewards)
            session.commit()

            def choose(
                experiment_id: int = experiment.id,
                context: LeadContext = LeadContext("web_form", "retail", "hot"),
            ) -> None:
                chooser = variant_chooser(session, experiment_id=experiment_id, now=T0)
                chooser(np.random.default_rng(0), None, context)

            out[f"{policy}_choice_ms"] = _median_ms(choose, rounds)
            if policy == "contextual_thompson":
                out["segment_counts_read_ms"] = _median_ms(
                    lambda experiment_id=experiment.id: segment_arm_counts(
                        session, experiment_id=experiment_id, metric="reply"
                    ),
                    rounds,
                )
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, nargs="+", default=[1000, 10_000, 50_000])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| sends | thompson choice ms | contextual choice ms | per-segment counts read ms |")
    print("|---:|---:|---:|---:|")
    for sends in args.sends:
        r = run(sends, args.rounds, args.seed)
        print(
            f"| {sends:,} | {r['thompson_choice_ms']:.2f} | {r['contextual_thompson_choice_ms']:.2f}"
            f" | {r['segment_counts_read_ms']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
