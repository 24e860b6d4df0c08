"""Benchmark of the bandit engine; prints figures for the report.

1. ``select`` + ``update`` per second, one experiment of 3 arms, in process (one core): from
   a cold start (burn-in, exact Beta draws) and from a warm state (10,000 pulls per arm).
2. Thompson-sampling propensity with 1,000 Monte-Carlo draws: median time per call.
3. Hillstrom replay (Li et al., 2011), reward = visit, N seeds: our policies beside MABWiser's
   Thompson sampling, UCB1 and ε-greedy (MABWiser is in the ``bench`` extra only): mean reward
   per counted row, spread over seeds, ratio to the best single arm, time per 10,000 choices.

Times are CPU time of this process (``time.process_time``), i.e. per core, so that other
work on the machine does not count against the figures.

Usage: .venv/bin/python -m experiments.bench_bandits [--seeds 5] [--rows N] [--skip-replay]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from experiments.replay import ARMS, Chooser, load_hillstrom, run_replay
from optimizer.bandits.base import Choice
from optimizer.bandits.registry import make_policy
from optimizer.bandits.thompson import ThompsonBernoulli
from optimizer.settings import get_settings

RATES = np.array([0.10, 0.12, 0.15])
POLICIES = ("thompson", "ucb1", "epsilon_greedy", "fixed_split", "uniform")


def throughput(name: str, *, warm: bool, steps: int, seed: int, **params: object) -> float:
    policy = make_policy(name, 3, params)  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    if warm:
        for arm, rate in enumerate(RATES):
            wins = int(rate * 10_000)
            policy.set_arm(arm, pulls=10_000, reward_sum=wins, reward_sum_sq=wins)
    rewards = rng.random(steps)
    start = time.process_time()
    for i in range(steps):
        choice = policy.select(rng)
        policy.update(choice.arm, float(rewards[i] < RATES[choice.arm]))
    return steps / (time.process_time() - start)


def bench_throughput(repeats: int = 3, steps: int = 20_000) -> None:
    print(f"select + update per CPU-second, 3 arms, one process (median of {repeats} runs)")
    print(f"{'policy':<28}{'cold':>10}{'warm':>10}")
    cases: list[tuple[str, str, dict[str, object]]] = [(name, name, {}) for name in POLICIES]
    cases.insert(1, ("thompson (draws=100)", "thompson", {"draws": 100}))
    cases.insert(2, ("thompson_normal", "thompson_normal", {}))
    for label, name, params in cases:
        cold = statistics.median(
            throughput(name, warm=False, steps=steps, seed=s, **params) for s in range(repeats)
        )
        warm = statistics.median(
            throughput(name, warm=True, steps=steps, seed=s, **params) for s in range(repeats)
        )
        print(f"{label:<28}{cold:>10,.0f}{warm:>10,.0f}")


def bench_propensity(calls: int = 2000) -> None:
    print("\nThompson propensity, 1,000 fresh draws per arm, 3 arms: median us per select")
    print("  (a policy just loaded with stored statistics, as for each API decision)")
    rng = np.random.default_rng(0)
    for pulls in (300, 10_000):
        times = []
        for _ in range(calls):
            policy = ThompsonBernoulli(n_arms=3, draws=1000)
            for arm, rate in enumerate(RATES):
                wins = int(rate * pulls)
                policy.set_arm(arm, pulls=pulls, reward_sum=wins, reward_sum_sq=wins)
            start = time.process_time()
            policy.select(rng)
            times.append(time.process_time() - start)
        label = f"{pulls:,} pulls per arm"
        print(f"  {label:<28}{statistics.median(times) * 1e6:8.1f} us")


class MabwiserChooser:
    """MABWiser behind our select/update, with the same even-split burn-in as our policies
    (``burn_in`` counted rows per arm, then one ``fit`` on them, then ``predict`` and
    ``partial_fit``). Without it MABWiser's UCB1 never tries an arm it was not fitted on
    (its expectation stays 0), which in this replay would favour whichever arm comes first."""

    def __init__(self, learning_policy: object, seed: int, burn_in: int = 50) -> None:
        from mabwiser.mab import MAB

        self.mab = MAB(list(range(len(ARMS))), learning_policy, seed=seed)  # type: ignore[arg-type]
        self.burn_in = burn_in
        self.seen: list[tuple[int, float]] = []
        self.counts = [0] * len(ARMS)
        self.fitted = False

    def select(self, rng: np.random.Generator) -> Choice:
        if not self.fitted:
            return Choice(int(rng.integers(len(ARMS))), 1.0 / len(ARMS), "burn_in")
        return Choice(int(self.mab.predict()), float("nan"))  # type: ignore[arg-type]

    def update(self, arm: int, reward: float) -> None:
        if self.fitted:
            self.mab.partial_fit([arm], [reward])
            return
        self.seen.append((arm, reward))
        self.counts[arm] += 1
        if min(self.counts) >= self.burn_in:
            self.mab.fit([a for a, _ in self.seen], [r for _, r in self.seen])
            self.fitted = True


def mabwiser_factories() -> dict[str, object]:
    from mabwiser.mab import LearningPolicy

    def factory(policy: object):  # noqa: ANN202
        return lambda seed: MabwiserChooser(policy, seed)

    return {
        "mabwiser_thompson": factory(LearningPolicy.ThompsonSampling()),
        "mabwiser_ucb1": factory(LearningPolicy.UCB1(alpha=1.0)),
        "mabwiser_epsilon_greedy": factory(LearningPolicy.EpsilonGreedy(epsilon=0.1)),
    }


def bench_replay(seeds: int, rows: int | None, data_dir: Path) -> None:
    data = load_hillstrom(data_dir / "hillstrom.csv.gz", "visit", sample_rows=rows)
    extra: dict[str, object] = mabwiser_factories()
    report = run_replay(
        data,
        ["thompson", "ucb1", "epsilon_greedy", "uniform"],
        seeds=seeds,
        extra=extra,  # type: ignore[arg-type]
    )
    values = ", ".join(f"{a} {v:.4f}" for a, v in zip(ARMS, report.arm_values, strict=True))
    print(f"\nHillstrom replay, reward=visit, {data.rows:,} rows, seeds 0..{seeds - 1}")
    print(f"  arm values: {values}; oracle = {report.oracle_arm} {report.oracle_value:.4f}")
    print(
        f"{'policy':<26}{'mean':>8}{'std':>8}{'min':>8}{'max':>8}{'÷best':>8}"
        f"{'counted':>9}{'s/10k':>8}"
    )
    for p in report.policies:
        print(
            f"{p.policy:<26}{p.mean:>8.4f}{p.std:>8.4f}{p.low:>8.4f}{p.high:>8.4f}"
            f"{p.ratio_to_oracle:>8.3f}{p.counted_mean:>9.0f}{p.seconds_per_10k_choices:>8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=None, help="replay a sample of rows")
    parser.add_argument("--skip-replay", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    if not args.skip_throughput:
        bench_throughput()
        bench_propensity()
    if not args.skip_replay:
        bench_replay(args.seeds, args.rows, args.data_dir or get_settings().data_dir)


_: type[Chooser] | None = None

if __name__ == "__main__":
    main()
