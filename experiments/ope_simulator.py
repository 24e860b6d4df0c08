"""Off-policy evaluation checked where the truth is known: the simulator.

In each simulated world (one per seed) every form fill gets a first text at the first legal
moment after it, with a message variant chosen by a *logging* policy A; the simulator draws
whether the lead replies. From A's log alone, each estimator of ``optimizer.ope`` (IPW, SNIPW,
DM, DR, switch-DR, DRos) estimates the reply rate a candidate policy B would have had on the
same texts. The truth is known two ways:

- **exact**: the simulator's own reply probability of every logged text under each variant,
  averaged with B's probabilities — B's expected reply rate on those texts;
- **simulated**: B run on the same texts of the same world (B's variants drawn, the replies
  drawn again), averaged over ``--replays`` runs.

Only first texts are used, so the texts (the contexts) are the same whatever policy chooses
the variant. Printed per candidate: each estimator's mean relative error |V̂ − V| / V over the
seeds (V the exact value), its spread, and how often its 95% bootstrap interval covers V.

    .venv/bin/python -m experiments.ope_simulator --seeds 1 2 3 4 5 [--leads 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimizer.ope.benchmark import evaluate_policy
from optimizer.ope.data import BanditFeedback
from optimizer.ope.estimators import ESTIMATORS
from optimizer.ope.reward_model import RewardModelSpec
from optimizer.simulation.config import SimConfig
from optimizer.simulation.geography import DAY, HOUR
from optimizer.simulation.outcomes import VariantArrays, draw, probabilities
from optimizer.simulation.world import World

START = dt.datetime(2026, 10, 5, 4, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class FirstTexts:
    """The run's first texts: which lead, when, and each text's context features."""

    lead: np.ndarray
    at: np.ndarray
    context: np.ndarray
    vertical: np.ndarray


def first_texts(world: World) -> FirstTexts:
    pop, clock, checker = world.population, world.clock, world.checker
    leads = world.arrivals()
    leads = leads[pop.consent[leads]]
    at = checker.next_legal(pop.area_idx[leads], pop.cand_zones[leads], pop.created_at[leads] + 120)
    keep = at >= 0
    leads, at = leads[keep], at[keep]
    config = world.config
    vertical = pop.vertical_idx[leads]
    source = pop.source_idx[leads]
    local_hour = (clock.local(pop.zone_idx[leads], at) % DAY) // HOUR
    waited_hours = np.minimum((at - pop.created_at[leads]) / 3600.0, 48.0)
    columns = [
        np.eye(len(config.verticals))[vertical],
        np.eye(len(config.sources))[source],
        np.eye(24)[local_hour],
        (waited_hours / 48.0)[:, None],
    ]
    return FirstTexts(leads, at, np.hstack(columns).astype(float), vertical)


def reply_probability(world: World, texts: FirstTexts, names: list[str]) -> np.ndarray:
    """(n, k): P(the lead replies) to each text under each variant (delivered, not opted out,
    replied), as the simulator draws it."""
    config, pop, clock = world.config, world.population, world.clock
    n = len(texts.lead)
    out = np.empty((n, len(names)))
    for a, name in enumerate(names):
        probs = probabilities(
            config,
            pop,
            clock,
            texts.lead,
            texts.at,
            VariantArrays.of(config, np.array([name] * n)),
            np.zeros(n),
        )
        out[:, a] = (1 - config.delivery_failure_rate) * (1 - probs.opt_out) * probs.reply
    return out


def run_policy(
    world: World, texts: FirstTexts, names: list[str], dist: np.ndarray, seed: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Variants drawn from ``dist`` (n, k) and the replies the simulator draws for them."""
    rng = np.random.default_rng(seed)
    cumulative = dist.cumsum(axis=1)
    action = (rng.random(len(dist))[:, None] > cumulative).sum(axis=1)
    action = np.minimum(action, len(names) - 1)
    drawn = draw(
        world.config,
        world.population,
        world.clock,
        rng,
        texts.lead,
        texts.at,
        VariantArrays.of(world.config, np.array(names)[action]),
        np.zeros(len(action)),
    )
    return action, drawn.reply.astype(float)


# Candidate policies: (n, k) variant probabilities from the texts' verticals.
def _split(weights: tuple[float, ...]) -> Callable[[FirstTexts, int], np.ndarray]:
    def dist(texts: FirstTexts, k: int) -> np.ndarray:
        return np.tile(np.asarray(weights, dtype=float), (len(texts.lead), 1))

    return dist


def _by_vertical(texts: FirstTexts, k: int) -> np.ndarray:
    """Deterministic and contextual: 'personal' for the first two verticals, 'urgency' for the
    rest."""
    out = np.zeros((len(texts.lead), k))
    out[np.arange(len(out)), np.where(texts.vertical < 2, 1, 2)] = 1.0
    return out


CANDIDATES: dict[str, Callable[[FirstTexts, int], np.ndarray]] = {
    "mostly-personal (0.1/0.8/0.1)": _split((0.1, 0.8, 0.1)),
    "by-vertical (personal | urgency)": _by_vertical,
}
LOGGING: dict[str, tuple[float, ...]] = {
    "uniform": (1 / 3, 1 / 3, 1 / 3),
    "skewed": (0.6, 0.3, 0.1),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--leads", type=int, default=20_000, help="form fills per world")
    parser.add_argument("--logging", choices=sorted(LOGGING), default="uniform")
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples")
    parser.add_argument("--replays", type=int, default=20, help="simulated runs of each candidate")
    parser.add_argument("--model", choices=("logistic", "lightgbm"), default="logistic")
    args = parser.parse_args()
    rows: dict[str, dict[str, list[float]]] = {}
    summary: dict[str, object] = {"logging": args.logging, "seeds": args.seeds, "leads": args.leads}
    for seed in args.seeds:
        config = SimConfig(seed=seed, history_leads=0)
        world = World.create(config, start=START, days=30, arrivals=args.leads)
        names = [v.name for v in config.variants]
        texts = first_texts(world)
        truth_table = reply_probability(world, texts, names)
        logging = np.tile(np.asarray(LOGGING[args.logging]), (len(texts.lead), 1))
        action, reward = run_policy(world, texts, names, logging, [seed, 1])
        for label, make in CANDIDATES.items():
            dist = make(texts, len(names))
            exact = float((dist * truth_table).sum(axis=1).mean())
            simulated = statistics.fmean(
                float(run_policy(world, texts, names, dist, [seed, 100 + r])[1].mean())
                for r in range(args.replays)
            )
            feedback = BanditFeedback(
                context=texts.context,
                action=action,
                reward=reward,
                pscore=logging[np.arange(len(action)), action],
                action_dist=dist,
            )
            evaluation = evaluate_policy(
                feedback,
                spec=RewardModelSpec(model=args.model, seed=seed),
                seed=seed,
                resamples=args.resamples,
            )
            table = rows.setdefault(label, {})
            table.setdefault("exact", []).append(exact)
            table.setdefault("simulated", []).append(simulated)
            table.setdefault("logged", []).append(float(reward.mean()))
            for est in evaluation.estimates:
                table.setdefault(f"{est.estimator}:err", []).append(abs(est.value - exact) / exact)
                table.setdefault(f"{est.estimator}:covers", []).append(
                    float(est.ci_low <= exact <= est.ci_high)
                )
            print(
                f"seed {seed}, {label}: texts {len(action):,}, logged reply rate {reward.mean():.4f}, "
                f"B exact {exact:.4f}, B simulated {simulated:.4f} ({args.replays} runs); "
                + ", ".join(
                    f"{e.estimator} {e.value:.4f} [{e.ci_low:.4f}, {e.ci_high:.4f}]"
                    for e in evaluation.estimates
                ),
                flush=True,
            )
    print()
    print(
        f"logging policy {args.logging} {LOGGING[args.logging]}, seeds {args.seeds}, first texts only"
    )
    for label, table in rows.items():
        exact = table["exact"]
        gap = [abs(s - e) / e for s, e in zip(table["simulated"], exact, strict=True)]
        print(
            f"\n{label}: exact value {min(exact):.4f}-{max(exact):.4f}; simulated run within "
            f"{max(gap):.1%} of it; logging policy's own rate {statistics.fmean(table['logged']):.4f}"
        )
        print("| estimator | mean relative error | min-max | 95% interval covers the truth |")
        print("|---|---:|---:|---:|")
        out: dict[str, object] = {}
        for name in ESTIMATORS:
            errors = table[f"{name}:err"]
            covers = table[f"{name}:covers"]
            print(
                f"| {name} | {statistics.fmean(errors):.3f} | {min(errors):.3f}-{max(errors):.3f} "
                f"| {int(sum(covers))} of {len(covers)} |"
            )
            out[name] = {
                "mean_relative_error": statistics.fmean(errors),
                "covered": int(sum(covers)),
            }
        summary[label] = out
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
