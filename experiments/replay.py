"""Offline evaluation of bandit policies by replay (Li, Chu, Langford & Wang, WSDM 2011).

The Hillstrom e-mail experiment assigned each customer uniformly at random to one of three
arms (Mens e-mail, Womens e-mail, no e-mail). Replay: shuffle the rows with a seed, show each
row to the policy, and when the policy's choice equals the logged arm, count the row's reward
and let the policy learn from it; otherwise skip the row. Because logging was uniform, the
mean reward per counted row is an unbiased estimate of the policy's online reward.

Runs are logged to MLflow (params, metrics, a cumulative-reward plot).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from optimizer.bandits.base import Choice, ParamValue
from optimizer.bandits.registry import make_policy, policy_class
from optimizer.errors import InvalidInput

ARMS = ("Mens E-Mail", "Womens E-Mail", "No E-Mail")
REWARDS = ("visit", "conversion", "spend")
BINARY_REWARDS = ("visit", "conversion")
MLFLOW_EXPERIMENT = "bandit-replay"
CURVE_POINTS = 400


class Chooser(Protocol):
    def select(self, rng: np.random.Generator) -> Choice: ...

    def update(self, arm: int, reward: float) -> None: ...


@dataclass(frozen=True)
class ReplayData:
    path: str
    reward_name: str
    logged_arm: np.ndarray  # int8, index into ARMS
    reward: np.ndarray  # float64

    @property
    def rows(self) -> int:
        return int(self.logged_arm.size)

    def arm_values(self) -> tuple[float, ...]:
        return tuple(float(self.reward[self.logged_arm == i].mean()) for i in range(len(ARMS)))


@dataclass(frozen=True)
class ReplayRun:
    policy: str
    seed: int
    choices: int  # rows shown to the policy
    counted: int  # rows where its choice matched the logged arm
    mean_reward: float  # per counted row
    seconds: float  # CPU time of the loop (time.process_time)
    curve_x: tuple[int, ...]  # counted rows so far
    curve_y: tuple[float, ...]  # mean reward per counted row so far

    @property
    def seconds_per_10k_choices(self) -> float:
        return self.seconds / self.choices * 10_000 if self.choices else 0.0


@dataclass(frozen=True)
class PolicySummary:
    policy: str
    mean: float
    std: float
    low: float
    high: float
    counted_mean: float
    seconds_per_10k_choices: float
    ratio_to_oracle: float
    runs: tuple[ReplayRun, ...]
    mlflow_run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "mean": self.mean,
            "std": self.std,
            "min": self.low,
            "max": self.high,
            "counted_mean": self.counted_mean,
            "seconds_per_10k_choices": self.seconds_per_10k_choices,
            "ratio_to_oracle": self.ratio_to_oracle,
            "per_seed": [r.mean_reward for r in self.runs],
            "seeds": [r.seed for r in self.runs],
            "mlflow_run_id": self.mlflow_run_id,
        }


@dataclass(frozen=True)
class ReplayReport:
    data: str
    reward: str
    rows: int
    arm_values: tuple[float, ...]
    oracle_arm: str
    oracle_value: float
    policies: tuple[PolicySummary, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "reward": self.reward,
            "rows": self.rows,
            "arm_values": dict(zip(ARMS, self.arm_values, strict=True)),
            "oracle_arm": self.oracle_arm,
            "oracle_value": self.oracle_value,
            "policies": {p.policy: p.to_dict() for p in self.policies},
        }


def load_hillstrom(
    path: str | Path, reward: str, *, sample_rows: int | None = None, seed: int = 0
) -> ReplayData:
    """The logged arm and reward of every row (optionally a seeded sample of rows)."""
    path = Path(path)
    if reward not in REWARDS:
        raise InvalidInput(
            f"reward {reward!r} is unknown (expected one of {', '.join(REWARDS)})", field="reward"
        )
    if not path.is_file():
        raise InvalidInput(f"data file {str(path)!r} does not exist", field="data")
    try:
        frame = pd.read_csv(path)
    except (ValueError, OSError) as exc:
        raise InvalidInput(f"data file {str(path)!r} cannot be read as CSV: {exc}") from exc
    for column in ("segment", reward):
        if column not in frame.columns:
            raise InvalidInput(
                f"column {column!r} is missing from {str(path)!r} "
                f"(columns: {', '.join(map(str, frame.columns))})",
                field="reward" if column == reward else "data",
            )
    codes = frame["segment"].map({name: i for i, name in enumerate(ARMS)})
    if codes.isna().any():
        unknown = sorted(set(frame.loc[codes.isna(), "segment"].astype(str)))[:5]
        raise InvalidInput(
            f"segment value(s) {unknown} in {str(path)!r} are not arms ({', '.join(ARMS)})"
        )
    values = pd.to_numeric(frame[reward], errors="coerce")
    if values.isna().any():
        raise InvalidInput(f"column {reward!r} in {str(path)!r} has non-numeric or empty values")
    logged = codes.to_numpy(dtype=np.int8)
    rewards = values.to_numpy(dtype=np.float64)
    if sample_rows is not None and sample_rows < logged.size:
        keep = np.random.default_rng(seed).choice(logged.size, size=sample_rows, replace=False)
        logged, rewards = logged[keep], rewards[keep]
    return ReplayData(str(path), reward, logged, rewards)


def replay_once(chooser: Chooser, data: ReplayData, *, seed: int, name: str) -> ReplayRun:
    """One replay pass over the rows in a seeded order."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(data.rows)
    logged, rewards = data.logged_arm[order], data.reward[order]
    counted_rewards = np.empty(data.rows)
    counted = 0
    start = time.process_time()
    for arm, reward in zip(logged.tolist(), rewards.tolist(), strict=True):
        if chooser.select(rng).arm == arm:
            chooser.update(arm, reward)
            counted_rewards[counted] = reward
            counted += 1
    seconds = time.process_time() - start
    cumulative = np.cumsum(counted_rewards[:counted]) / np.arange(1, counted + 1)
    points = np.unique(np.linspace(1, max(counted, 1), CURVE_POINTS).astype(int))
    points = points[points <= counted]
    mean = float(cumulative[-1]) if counted else 0.0
    return ReplayRun(
        name,
        seed,
        data.rows,
        counted,
        mean,
        seconds,
        tuple(int(p) for p in points),
        tuple(float(cumulative[p - 1]) for p in points),
    )


def check_policy_for_reward(policy: str, reward: str) -> None:
    policy_class(policy)
    if reward not in BINARY_REWARDS and policy == "thompson":
        raise InvalidInput(
            f"policy 'thompson' models a 0/1 reward; use 'thompson_normal' for reward {reward!r}",
            field="policy",
        )


def summarise(
    name: str, runs: Sequence[ReplayRun], oracle_value: float, run_id: str | None = None
) -> PolicySummary:
    means = np.array([r.mean_reward for r in runs])
    seconds = sum(r.seconds for r in runs)
    choices = sum(r.choices for r in runs)
    return PolicySummary(
        name,
        float(means.mean()),
        float(means.std(ddof=1)) if means.size > 1 else 0.0,
        float(means.min()),
        float(means.max()),
        float(np.mean([r.counted for r in runs])),
        seconds / choices * 10_000 if choices else 0.0,
        float(means.mean() / oracle_value) if oracle_value else 0.0,
        tuple(runs),
        run_id,
    )


def _factory(name: str, params: Mapping[str, ParamValue] | None) -> Callable[[int], Chooser]:
    def build(_seed: int) -> Chooser:
        return make_policy(name, len(ARMS), params)

    return build


def run_replay(
    data: ReplayData,
    policies: Sequence[str],
    *,
    seeds: int = 5,
    first_seed: int = 0,
    params: Mapping[str, Mapping[str, ParamValue]] | None = None,
    extra: Mapping[str, Callable[[int], Chooser]] | None = None,
    tracking_uri: str | None = None,
    artifact_root: str | None = None,
) -> ReplayReport:
    """Replay every policy (registry names, plus ``extra`` factories) over ``seeds`` seeds."""
    if seeds < 1:
        raise InvalidInput(f"seeds {seeds!r}: must be >= 1", field="seeds")
    if not policies and not extra:
        raise InvalidInput("no policy given (at least one expected)", field="policy")
    for name in policies:
        check_policy_for_reward(name, data.reward_name)
    params = params or {}
    factories: dict[str, Callable[[int], Chooser]] = {
        name: _factory(name, params.get(name)) for name in policies
    }
    factories.update(extra or {})
    values = data.arm_values()
    best = int(np.argmax(values))
    summaries = []
    for name, factory in factories.items():
        runs = [
            replay_once(factory(seed), data, seed=seed, name=name)
            for seed in range(first_seed, first_seed + seeds)
        ]
        summary = summarise(name, runs, values[best])
        if tracking_uri:
            run_id = log_to_mlflow(
                summary, data, values, tracking_uri, artifact_root, params.get(name, {})
            )
            summary = summarise(name, runs, values[best], run_id)
        summaries.append(summary)
    return ReplayReport(
        data.path, data.reward_name, data.rows, values, ARMS[best], values[best], tuple(summaries)
    )


def cumulative_figure(summary: PolicySummary, oracle_value: float, uniform_value: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for run in summary.runs:
        axis.plot(run.curve_x, run.curve_y, linewidth=1, label=f"seed {run.seed}")
    axis.axhline(oracle_value, color="black", linestyle="--", label="best single arm")
    axis.axhline(uniform_value, color="grey", linestyle=":", label="uniform random")
    axis.set_xlabel("counted rows")
    axis.set_ylabel("mean reward per counted row")
    axis.set_title(f"Replay: {summary.policy}")
    axis.legend(fontsize=7)
    figure.tight_layout()
    return figure


def log_to_mlflow(
    summary: PolicySummary,
    data: ReplayData,
    values: Sequence[float],
    tracking_uri: str,
    artifact_root: str | None,
    policy_params: Mapping[str, ParamValue],
) -> str:
    import mlflow
    from matplotlib import pyplot as plt

    mlflow.set_tracking_uri(tracking_uri)
    found = mlflow.get_experiment_by_name(MLFLOW_EXPERIMENT)
    experiment_id = (
        found.experiment_id
        if found is not None
        else mlflow.create_experiment(MLFLOW_EXPERIMENT, artifact_location=artifact_root)
    )
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"replay:{summary.policy}") as run:
        mlflow.log_params(
            {
                "policy": summary.policy,
                "reward": data.reward_name,
                "data": data.path,
                "rows": data.rows,
                "seeds": ",".join(str(r.seed) for r in summary.runs),
                **{f"param.{k}": v for k, v in policy_params.items()},
            }
        )
        mlflow.log_metrics(
            {
                "mean_reward": summary.mean,
                "std_reward": summary.std,
                "counted_rows": summary.counted_mean,
                "oracle_value": max(values),
                "ratio_to_oracle": summary.ratio_to_oracle,
                "seconds_per_10k_choices": summary.seconds_per_10k_choices,
            }
        )
        for step, run_result in enumerate(summary.runs):
            mlflow.log_metric("mean_reward_by_seed", run_result.mean_reward, step=step)
        figure = cumulative_figure(summary, max(values), float(np.mean(values)))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "cumulative_reward.png"
            figure.savefig(path, dpi=100)
            mlflow.log_artifact(str(path), artifact_path="plots")
        plt.close(figure)
        return str(run.info.run_id)
