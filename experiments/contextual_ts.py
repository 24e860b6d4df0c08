"""Contextual against context-free Thompson sampling: online in the simulator, offline by OPE.

1. **Online, simulator with heterogeneity** (``segment_effects=HETEROGENEOUS_EFFECTS``: the
   best variant depends on the lead's vertical). In each world (one per seed) every consented
   form fill gets a first text at its first legal moment; the policy chooses the variant from
   what it has learnt so far, and a text's reply is seen one hour after it is sent. Reward: the
   simulator's exact reply probability of the text chosen (its expected reply; the drawn
   replies are printed too). The contextual policy segments by ``--segment-by`` (vertical and
   source by default: the heterogeneity is by vertical only, the source splits are noise the
   shrinkage has to absorb). Printed: each policy's reply rate per text with an across-seed
   95 % t interval, and the paired difference with its interval.
2. **Offline, OPE on a logged simulator run**: a uniform logging policy's first texts (seed
   ``--seeds[0]``, heterogeneity on); both policies learn from the first half of the log (in
   time), are frozen, and their value on the second half is estimated by IPW, SNIPW, DM and DR
   (``optimizer.ope``, a cross-fitted LightGBM reward model on vertical, source, local hour
   and wait) with bootstrap intervals; the truth (exact, from the simulator) is printed beside.
3. **Hillstrom** (randomised: arms = the three ``segment`` values, reward = ``visit``, context
   = ``womens``, ``mens``, ``newbie``, ``channel``): replay (Li et al., 2011) of each policy
   over the seeds, and IPW/SNIPW/DM/DR of each policy learnt on a seeded half and frozen,
   evaluated on the other half (logging propensity 1/3).

The last line printed is one JSON object with every figure.

    .venv/bin/python -m experiments.contextual_ts [--quick] [--hillstrom PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from experiments.ope_simulator import first_texts, reply_probability
from optimizer.bandits.base import BasePolicy, ParamValue
from optimizer.bandits.contextual import ContextualThompson, LeadContext
from optimizer.bandits.registry import make_policy
from optimizer.errors import InvalidInput
from optimizer.ope.data import BanditFeedback
from optimizer.ope.estimators import bootstrap_ratios, evaluate, round_rewards
from optimizer.ope.reward_model import RewardModelSpec, cross_fitted_rewards
from optimizer.settings import Settings
from optimizer.simulation.config import HETEROGENEOUS_EFFECTS, SimConfig
from optimizer.simulation.world import World

START = dt.datetime(2026, 10, 5, 4, 0, tzinfo=dt.UTC)
FEEDBACK_DELAY = 3600  # seconds between a text and its reply reaching the policy
ESTIMATORS = ("ipw", "snipw", "dm", "dr")
POLICIES = ("thompson", "contextual_thompson")
HILLSTROM_ARMS = ("Mens E-Mail", "Womens E-Mail", "No E-Mail")
HILLSTROM_CONTEXT = ("womens", "mens", "newbie", "channel")


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and across-seed Student-t interval (a single value: the value, twice)."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if x.size < 2:
        return mean, mean, mean
    half = float(stats.t(x.size - 1).ppf(0.5 + confidence / 2) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def new_policy(name: str, segment_by: str, prior_strength: float = 20.0) -> BasePolicy:
    params: dict[str, ParamValue] | None = None
    if name == ContextualThompson.name:
        params = {"segment_by": segment_by, "prior_strength": prior_strength}
    return make_policy(name, 3, params)


def select(
    policy: BasePolicy, rng: np.random.Generator, segment: str
) -> tuple[int, float, np.ndarray]:
    if isinstance(policy, ContextualThompson):
        choice = policy.select(rng, None, segment)
    else:
        choice = policy.select(rng)
    return choice.arm, choice.propensity, np.asarray(choice.probabilities)


def learn(policy: BasePolicy, arm: int, reward: float, segment: str) -> None:
    if isinstance(policy, ContextualThompson):
        policy.update(arm, reward, segment)
    else:
        policy.update(arm, reward)


def distribution(policy: BasePolicy, segments: Sequence[str], seed: int) -> np.ndarray:
    """The frozen policy's probability of each arm for each row (computed once per segment)."""
    rng = np.random.default_rng(seed)
    by_segment: dict[str, np.ndarray] = {}
    for key in dict.fromkeys(segments):
        if isinstance(policy, ContextualThompson):
            by_segment[key] = policy.probabilities(rng, None, key)
        else:
            by_segment[key] = policy.probabilities(rng)
    return np.array([by_segment[key] for key in segments])


# -- the simulator ------------------------------------------------------------------------


@dataclass(frozen=True)
class SimTexts:
    order: np.ndarray  # text indices in send order
    at: np.ndarray  # send time (epoch s) of each text
    segments: list[str]  # per text, in the contextual policy's keys
    truth: np.ndarray  # (n, 3) exact reply probability under each variant
    context: np.ndarray  # reward-model features
    names: list[str]


def sim_texts(seed: int, leads: int, segment_by: str) -> SimTexts:
    config = SimConfig(seed=seed, history_leads=0, segment_effects=HETEROGENEOUS_EFFECTS)
    world = World.create(config, start=START, days=30, arrivals=leads)
    names = [v.name for v in config.variants]
    texts = first_texts(world)
    pop = world.population
    keyer = new_policy(ContextualThompson.name, segment_by)
    assert isinstance(keyer, ContextualThompson)
    segments = [
        keyer.key(
            LeadContext(
                source=config.sources[int(pop.source_idx[lead])].name,
                vertical=config.verticals[int(pop.vertical_idx[lead])].name,
            )
        )
        for lead in texts.lead
    ]
    return SimTexts(
        order=np.argsort(texts.at, kind="stable"),
        at=texts.at,
        segments=segments,
        truth=reply_probability(world, texts, names),
        context=texts.context,
        names=names,
    )


def run_online(texts: SimTexts, policy: BasePolicy, seed: int) -> dict[str, float]:
    """The policy chooses every text in send order; replies arrive ``FEEDBACK_DELAY`` later."""
    rng = np.random.default_rng([seed, 7])
    reward_rng = np.random.default_rng([seed, 8])
    pending: list[tuple[int, int, float]] = []  # (visible at, text, reward) in send order
    arms: dict[int, int] = {}
    seen = 0
    expected = drawn = 0.0
    for i in texts.order.tolist():
        now = int(texts.at[i])
        while seen < len(pending) and pending[seen][0] <= now:
            _, j, reward = pending[seen]
            learn(policy, arms[j], reward, texts.segments[j])
            seen += 1
        arm, _, _ = select(policy, rng, texts.segments[i])
        arms[i] = arm
        p = float(texts.truth[i, arm])
        reward = float(reward_rng.random() < p)
        expected += p
        drawn += reward
        pending.append((now + FEEDBACK_DELAY, i, reward))
    n = len(texts.order)
    return {"expected": expected / n, "drawn": drawn / n}


def log_uniform(texts: SimTexts, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 9])
    n = texts.truth.shape[0]
    action = rng.integers(0, 3, size=n)
    reward = (rng.random(n) < texts.truth[np.arange(n), action]).astype(float)
    return action, reward


def ope_table(
    feedback_of: dict[str, BanditFeedback],
    q_hat: np.ndarray,
    *,
    seed: int,
    resamples: int,
) -> dict[str, Any]:
    """Each policy's estimates, and contextual − context-free per estimator, on the same
    bootstrap resamples (``bootstrap_ratios`` draws its rows from the seed and row count)."""
    out: dict[str, Any] = {}
    boots: dict[str, dict[str, np.ndarray]] = {}
    for name, feedback in feedback_of.items():
        evaluation = evaluate(feedback, ESTIMATORS, q_hat, seed=seed, resamples=resamples)
        out[name] = {e.estimator: [e.value, e.ci_low, e.ci_high] for e in evaluation.estimates}
        out[name]["ess_share"] = evaluation.weights.ess_share
        boots[name] = {}
        for est in ESTIMATORS:
            if est == "snipw":
                w = feedback.importance_weights()
                boots[name][est] = bootstrap_ratios(
                    w * feedback.reward, w, resamples=resamples, seed=seed
                )
            else:
                terms = round_rewards(est, feedback, q_hat)
                boots[name][est] = bootstrap_ratios(terms, None, resamples=resamples, seed=seed)
    a, b = POLICIES
    diff: dict[str, list[float]] = {}
    for est in ESTIMATORS:
        delta = boots[b][est] - boots[a][est]
        point = out[b][est][0] - out[a][est][0]
        low, high = np.quantile(delta, [0.025, 0.975])
        diff[est] = [point, float(low), float(high)]
    out["difference"] = diff
    return out


def offline_sim(
    texts: SimTexts, seed: int, segment_by: str, prior_strength: float, resamples: int
) -> dict[str, Any]:
    action, reward = log_uniform(texts, seed)
    order = texts.order
    half = len(order) // 2
    train, test = order[:half], order[half:]
    context = texts.context[test]
    segments = [texts.segments[i] for i in test.tolist()]
    q_hat: np.ndarray | None = None
    feedback_of: dict[str, BanditFeedback] = {}
    truth: dict[str, float] = {}
    for name in POLICIES:
        policy = new_policy(name, segment_by, prior_strength)
        for i in train.tolist():
            learn(policy, int(action[i]), float(reward[i]), texts.segments[i])
        dist = distribution(policy, segments, seed)
        truth[name] = float((dist * texts.truth[test]).sum(axis=1).mean())
        feedback_of[name] = BanditFeedback(
            context=context,
            action=action[test],
            reward=reward[test],
            pscore=np.full(test.size, 1 / 3),
            action_dist=dist,
        )
        if q_hat is None:
            q_hat = cross_fitted_rewards(
                feedback_of[name], RewardModelSpec(model="lightgbm", seed=seed)
            )
    assert q_hat is not None
    table = ope_table(feedback_of, q_hat, seed=seed, resamples=resamples)
    table["truth"] = truth
    table["truth_difference"] = truth[POLICIES[1]] - truth[POLICIES[0]]
    table["rows"] = {"train": int(train.size), "test": int(test.size)}
    return table


# -- Hillstrom ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Hillstrom:
    arm: np.ndarray
    reward: np.ndarray
    segments: list[str]
    context: np.ndarray


def load_hillstrom(path: Path, sample_rows: int | None, seed: int) -> Hillstrom:
    if not path.is_file():
        raise InvalidInput(f"Hillstrom file {str(path)!r} does not exist", field="hillstrom")
    frame = pd.read_csv(path)
    missing = [c for c in ("segment", "visit", *HILLSTROM_CONTEXT) if c not in frame.columns]
    if missing:
        raise InvalidInput(f"Hillstrom file {str(path)!r} lacks column(s) {missing}")
    if sample_rows is not None and sample_rows < len(frame):
        frame = frame.sample(n=sample_rows, random_state=seed)
    arm = frame["segment"].map({name: i for i, name in enumerate(HILLSTROM_ARMS)})
    if arm.isna().any():
        raise InvalidInput(f"segment values in {str(path)!r} are not {HILLSTROM_ARMS}")
    parts = frame[list(HILLSTROM_CONTEXT)].astype(str)
    segments = (
        ("womens=" + parts["womens"])
        .str.cat("mens=" + parts["mens"], sep="|")
        .str.cat("newbie=" + parts["newbie"], sep="|")
        .str.cat("channel=" + parts["channel"].str.lower(), sep="|")
    ).tolist()
    context = pd.get_dummies(frame[list(HILLSTROM_CONTEXT)].astype(str), dtype=float)
    return Hillstrom(
        arm=arm.to_numpy(dtype=np.int64),
        reward=frame["visit"].to_numpy(dtype=float),
        segments=segments,
        context=context.to_numpy(dtype=float),
    )


def replay(data: Hillstrom, policy: BasePolicy, seed: int) -> float:
    """Li et al.'s replay: count a shuffled row when the policy's choice is the logged arm."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(data.arm.size)
    total = 0.0
    counted = 0
    for i in order.tolist():
        arm, _, _ = select(policy, rng, data.segments[i])
        if arm == data.arm[i]:
            learn(policy, arm, float(data.reward[i]), data.segments[i])
            total += float(data.reward[i])
            counted += 1
    return total / counted if counted else 0.0


def offline_hillstrom(
    data: Hillstrom, seed: int, prior_strength: float, resamples: int
) -> dict[str, Any]:
    rng = np.random.default_rng([seed, 3])
    order = rng.permutation(data.arm.size)
    half = data.arm.size // 2
    train, test = order[:half], order[half:]
    segments = [data.segments[i] for i in test.tolist()]
    feedback_of: dict[str, BanditFeedback] = {}
    q_hat: np.ndarray | None = None
    for name in POLICIES:
        policy = new_policy(name, "vertical", prior_strength)  # keys given: segment_by unused
        for i in train.tolist():
            learn(policy, int(data.arm[i]), float(data.reward[i]), data.segments[i])
        feedback_of[name] = BanditFeedback(
            context=data.context[test],
            action=data.arm[test],
            reward=data.reward[test],
            pscore=np.full(test.size, 1 / 3),
            action_dist=distribution(policy, segments, seed),
        )
        if q_hat is None:
            q_hat = cross_fitted_rewards(
                feedback_of[name], RewardModelSpec(model="lightgbm", seed=seed)
            )
    assert q_hat is not None
    table = ope_table(feedback_of, q_hat, seed=seed, resamples=resamples)
    arm_means = [float(data.reward[test][data.arm[test] == a].mean()) for a in range(3)]
    table["best_single_arm"] = {
        "arm": HILLSTROM_ARMS[int(np.argmax(arm_means))],
        "value": max(arm_means),
    }
    table["rows"] = {"train": int(train.size), "test": int(test.size)}
    return table


# -- the run ------------------------------------------------------------------------------


def _fmt(values: Sequence[float]) -> str:
    return f"{values[0]:.4f} [{values[1]:.4f}, {values[2]:.4f}]"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--leads", type=int, default=20_000, help="form fills per world")
    parser.add_argument("--segment-by", default="vertical,source")
    parser.add_argument("--prior-strength", type=float, default=20.0)
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples")
    parser.add_argument("--hillstrom", type=Path, default=None)
    parser.add_argument("--hillstrom-rows", type=int, default=None, help="a seeded sample")
    parser.add_argument("--quick", action="store_true", help="a small run (for the tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = args.seeds[:2]
        args.leads = min(args.leads, 3000)
        args.resamples = min(args.resamples, 50)
        args.hillstrom_rows = min(args.hillstrom_rows or 6000, 6000)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "prior_strength": args.prior_strength,
        "seeds": args.seeds,
        "leads": args.leads,
        "segment_by": args.segment_by,
        "feedback_delay_s": FEEDBACK_DELAY,
    }
    # 1. Online in the simulator.
    online: dict[str, list[float]] = {
        f"{p}:{k}": [] for p in POLICIES for k in ("expected", "drawn")
    }
    oracle: list[float] = []
    best_arm: list[float] = []
    first: SimTexts | None = None
    for seed in args.seeds:
        texts = sim_texts(seed, args.leads, args.segment_by)
        first = first or texts
        oracle.append(float(texts.truth.max(axis=1).mean()))
        best_arm.append(float(texts.truth.mean(axis=0).max()))
        for name in POLICIES:
            run = run_online(texts, new_policy(name, args.segment_by, args.prior_strength), seed)
            for key, value in run.items():
                online[f"{name}:{key}"].append(value)
        print(
            f"seed {seed}: {len(texts.order):,} texts; expected reply rate "
            + ", ".join(f"{p} {online[f'{p}:expected'][-1]:.4f}" for p in POLICIES)
            + f"; best single variant {best_arm[-1]:.4f}, best per lead {oracle[-1]:.4f}",
            flush=True,
        )
    a, b = POLICIES
    diff = [y - x for x, y in zip(online[f"{a}:expected"], online[f"{b}:expected"], strict=True)]
    result["online"] = {
        **{p: list(t_interval(online[f"{p}:expected"])) for p in POLICIES},
        **{f"{p}_drawn": list(t_interval(online[f"{p}:drawn"])) for p in POLICIES},
        "difference": list(t_interval(diff)),
        "per_seed": online,
        "best_single_variant": list(t_interval(best_arm)),
        "best_per_lead": list(t_interval(oracle)),
    }
    print(
        "\nOnline, simulator with heterogeneity (reply rate per first text, mean over seeds "
        "[95% t interval])"
    )
    print("| policy | expected reply rate | drawn reply rate |")
    print("|---|---:|---:|")
    for p in POLICIES:
        print(f"| {p} | {_fmt(result['online'][p])} | {_fmt(result['online'][p + '_drawn'])} |")
    print(f"| contextual − context-free | {_fmt(result['online']['difference'])} | |")
    print(
        f"| best single variant (reference) | {_fmt(result['online']['best_single_variant'])} | |"
    )
    print(f"| best variant per lead (reference) | {_fmt(result['online']['best_per_lead'])} | |")
    # 2. OPE on a logged simulator run.
    assert first is not None
    sim_ope = offline_sim(
        first, args.seeds[0], args.segment_by, args.prior_strength, args.resamples
    )
    result["ope_simulator"] = sim_ope
    print(
        f"\nOffline, uniform log of seed {args.seeds[0]} (learn on the first half, "
        "evaluate on the second; value [95% bootstrap interval])"
    )
    _print_ope(sim_ope, truth=sim_ope["truth"], truth_difference=sim_ope["truth_difference"])
    # 3. Hillstrom.
    path = args.hillstrom or Settings().data_dir / "hillstrom.csv.gz"
    if path.is_file():
        data = load_hillstrom(path, args.hillstrom_rows, args.seeds[0])
        replays: dict[str, list[float]] = {p: [] for p in POLICIES}
        for seed in args.seeds:
            for name in POLICIES:
                replays[name].append(
                    replay(data, new_policy(name, "vertical", args.prior_strength), seed)
                )
        rdiff = [y - x for x, y in zip(replays[a], replays[b], strict=True)]
        hill_ope = offline_hillstrom(data, args.seeds[0], args.prior_strength, args.resamples)
        result["hillstrom"] = {
            "rows": int(data.arm.size),
            "replay": {
                **{p: list(t_interval(v)) for p, v in replays.items()},
                "difference": list(t_interval(rdiff)),
                "per_seed": replays,
            },
            "ope": hill_ope,
        }
        print(f"\nHillstrom, {data.arm.size:,} rows, reward visit; replay over seeds {args.seeds}")
        print("| policy | replay visit rate [95% t interval] |")
        print("|---|---:|")
        for p in POLICIES:
            print(f"| {p} | {_fmt(result['hillstrom']['replay'][p])} |")
        print(
            f"| contextual − context-free | {_fmt(result['hillstrom']['replay']['difference'])} |"
        )
        print(
            f"\nHillstrom OPE (learn on a seeded half, evaluate on the other; best single arm "
            f"{hill_ope['best_single_arm']['arm']} {hill_ope['best_single_arm']['value']:.4f})"
        )
        _print_ope(hill_ope)
    else:
        print(f"\nHillstrom skipped: {path} is absent (give --hillstrom PATH)")
        result["hillstrom"] = None
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))
    return result


def _print_ope(
    table: dict[str, Any],
    truth: dict[str, float] | None = None,
    truth_difference: float | None = None,
) -> None:
    print("| estimator | " + " | ".join(POLICIES) + " | contextual − context-free |")
    print("|---|---:|---:|---:|")
    for est in ESTIMATORS:
        cells = [_fmt(table[p][est]) for p in POLICIES]
        print(f"| {est} | " + " | ".join(cells) + f" | {_fmt(table['difference'][est])} |")
    if truth is not None:
        print(
            "| truth (simulator) | "
            + " | ".join(f"{truth[p]:.4f}" for p in POLICIES)
            + f" | {truth_difference:.4f} |"
        )
    print("| ESS share | " + " | ".join(f"{table[p]['ess_share']:.2f}" for p in POLICIES) + " | |")


if __name__ == "__main__":
    main()
