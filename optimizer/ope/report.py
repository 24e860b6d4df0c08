"""One evaluation of a candidate policy on a logged file, as the CLI and the experiment print it.

``run_log_evaluation`` reads a log in OBD's layout, builds the evaluation policy's action
distribution (``uniform`` or ``bts`` from a Beta prior), estimates its value with every
estimator (bootstrap interval, weight diagnostics) and, when the policy's own on-policy log is
given, the relative error of each estimator: of the point estimate and, over ``runs``
bootstrap samples with the reward model refitted on each, its mean and standard deviation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.errors import InvalidInput
from optimizer.ope.benchmark import (
    RelativeErrors,
    evaluate_policy,
    feedback_from_log,
    relative_errors,
)
from optimizer.ope.estimators import ESTIMATORS, NEEDS_REWARD_MODEL, Evaluation
from optimizer.ope.obd import ObdLog, read_obd_log
from optimizer.ope.policies import bernoulli_ts_action_dist, load_bts_prior, uniform_action_dist
from optimizer.ope.reward_model import RewardModelSpec

POLICIES = ("uniform", "bts")
CAMPAIGNS = ("all", "men", "women")
# Open Bandit Pipeline, examples/obd/README.md: BTS evaluated from the Random log of the
# "all" campaign, logistic regression reward model, 30 bootstrap runs, mean relative error.
OBP_PUBLISHED_ALL = {
    "dm": 0.156876,
    "ipw": 0.311082,
    "snipw": 0.311795,
    "dr": 0.292464,
    "switch-dr": 0.258410,
    "dr-os": 0.159520,
}


@dataclass(frozen=True)
class LogEvaluationConfig:
    log: Path
    policy: str
    prior: Path | None = None
    campaign: str | None = None
    on_policy_log: Path | None = None
    estimators: tuple[str, ...] = ESTIMATORS
    model: str = "logistic"
    folds: int = 3
    seed: int = 12345
    resamples: int = 1000
    model_resamples: int = 0
    runs: int = 30
    n_sim: int = 1_000_000


@dataclass(frozen=True)
class LogEvaluationReport:
    config: LogEvaluationConfig
    log: ObdLog
    campaign: str | None
    evaluation: Evaluation
    logged_mean: float
    truth: float | None
    errors: RelativeErrors | None

    def to_dict(self) -> dict[str, Any]:
        estimates: dict[str, Any] = {}
        for e in self.evaluation.estimates:
            entry: dict[str, Any] = e.to_dict()
            entry.pop("estimator")
            if self.truth:
                entry["relative_error"] = abs(e.value - self.truth) / self.truth
            if self.errors is not None:
                summary = self.errors.summary()[e.estimator]
                entry["relative_error_mean"] = summary["mean"]
                entry["relative_error_std"] = summary["std"]
            estimates[e.estimator] = entry
        c = self.config
        return {
            "log": str(c.log),
            "policy": c.policy,
            "campaign": self.campaign,
            "rows": self.log.n_rounds,
            "n_actions": self.log.n_actions,
            "positions": self.log.len_list,
            "logged_mean_reward": self.logged_mean,
            "on_policy_value": self.truth,
            "estimates": estimates,
            "weights": self.evaluation.weights.to_dict(),
            "reward_model": c.model,
            "folds": c.folds,
            "seed": c.seed,
            "resamples": c.resamples,
            "model_resamples": c.model_resamples,
            "runs": self.errors.runs if self.errors is not None else 0,
            "n_sim": c.n_sim if c.policy == "bts" else None,
        }


def _campaign(config: LogEvaluationConfig) -> str:
    if config.campaign is not None:
        if config.campaign not in CAMPAIGNS:
            raise InvalidInput(
                f"--campaign {config.campaign!r} is not one of {', '.join(CAMPAIGNS)}",
                field="campaign",
            )
        return config.campaign
    stem = config.log.name.split(".")[0]
    for campaign in CAMPAIGNS:
        if stem.endswith(f"-{campaign}") or stem == campaign:
            return campaign
    raise InvalidInput(
        f"--campaign is needed: it cannot be read from the log's name {config.log.name!r}",
        field="campaign",
    )


def policy_distribution(config: LogEvaluationConfig, log: ObdLog) -> tuple[np.ndarray, str | None]:
    """The evaluation policy's ``(n_actions, len_list)`` distribution (and its campaign)."""
    if config.policy == "uniform":
        return uniform_action_dist(log.n_actions, log.len_list), None
    if config.policy == "bts":
        campaign = _campaign(config)
        prior_path = config.prior or config.log.parent / "prior_bts.yaml"
        prior = load_bts_prior(prior_path, campaign)
        if prior.n_actions != log.n_actions:
            raise InvalidInput(
                f"prior of {campaign!r} has {prior.n_actions} actions; the log has {log.n_actions}",
                field="prior",
            )
        dist = bernoulli_ts_action_dist(
            prior, len_list=log.len_list, n_sim=config.n_sim, seed=config.seed
        )
        return dist, campaign
    raise InvalidInput(
        f"--policy {config.policy!r} is not one of {', '.join(POLICIES)}", field="policy"
    )


def run_log_evaluation(config: LogEvaluationConfig) -> LogEvaluationReport:
    unknown = [name for name in config.estimators if name not in ESTIMATORS]
    if unknown:
        raise InvalidInput(
            f"--estimators: {unknown[0]!r} is not one of {', '.join(ESTIMATORS)}",
            field="estimators",
        )
    if config.runs < 0:
        raise InvalidInput(f"--runs {config.runs}: 0 or more", field="runs")
    spec = RewardModelSpec(model=config.model, folds=config.folds, seed=config.seed)
    log = read_obd_log(config.log)
    dist, campaign = policy_distribution(config, log)
    feedback = feedback_from_log(log, dist)
    evaluation = evaluate_policy(
        feedback,
        estimators=config.estimators,
        spec=spec,
        seed=config.seed,
        resamples=config.resamples,
        model_resamples=config.model_resamples,
    )
    truth = None
    errors = None
    if config.on_policy_log is not None:
        on_policy = read_obd_log(config.on_policy_log, n_actions=log.n_actions)
        truth = float(on_policy.reward.mean())
        if config.runs > 0:
            errors = relative_errors(
                feedback,
                truth,
                estimators=config.estimators,
                spec=spec,
                runs=config.runs,
                seed=config.seed,
            )
    return LogEvaluationReport(
        config=config,
        log=log,
        campaign=campaign,
        evaluation=evaluation,
        logged_mean=float(log.reward.mean()),
        truth=truth,
        errors=errors,
    )


def format_table(
    report: LogEvaluationReport, published: Mapping[str, float] | None = None
) -> list[str]:
    """The report as text lines: one row per estimator."""
    c = report.config
    w = report.evaluation.weights
    lines = [
        f"{report.log.n_rounds:,} logged rows, {report.log.n_actions} actions in "
        f"{report.log.len_list} position(s); logged mean reward {report.logged_mean:.5f}; "
        f"policy {c.policy}" + (f" ({report.campaign})" if report.campaign else ""),
        f"weights: effective sample size {w.effective_sample_size:,.0f} "
        f"({w.ess_share:.1%}), max weight {w.max_weight:.2f}, mean weight {w.mean_weight:.3f}",
    ]
    if report.truth is not None:
        lines.append(
            f"on-policy value (from {Path(str(c.on_policy_log)).name}): {report.truth:.5f}"
        )
    header = f"{'estimator':<11}{'estimate':>10}{'95% interval':>22}{'lambda':>8}"
    if report.truth is not None:
        header += f"{'rel.err':>9}"
    if report.errors is not None:
        header += f"{'mean rel.err':>14}{'± std':>8}"
    if published:
        header += f"{'OBP (all)':>11}"
    lines.append(header)
    summary = report.errors.summary() if report.errors is not None else {}
    for e in report.evaluation.estimates:
        lam = "—" if e.lambda_ is None else ("inf" if np.isinf(e.lambda_) else f"{e.lambda_:g}")
        row = f"{e.estimator:<11}{e.value:>10.5f}{f'{e.ci_low:.5f} – {e.ci_high:.5f}':>22}{lam:>8}"
        if report.truth is not None:
            row += f"{abs(e.value - report.truth) / report.truth:>9.3f}"
        if report.errors is not None:
            s = summary[e.estimator]
            row += f"{s['mean']:>14.3f}{s['std']:>8.3f}"
        if published:
            figure = published.get(e.estimator)
            row += f"{'—' if figure is None else f'{figure:.3f}':>11}"
        lines.append(row)
    refit = [e.estimator for e in report.evaluation.estimates if e.interval == "rows+refit"]
    fixed = [
        e.estimator
        for e in report.evaluation.estimates
        if e.estimator in NEEDS_REWARD_MODEL and e.interval == "rows"
    ]
    if refit:
        lines.append(
            f"intervals of {', '.join(refit)}: {c.model_resamples} bootstrap samples, reward "
            "model refitted on each"
        )
    if fixed:
        lines.append(
            f"intervals of {', '.join(fixed)} hold the reward model fixed (they leave out its "
            "own error; --model-resamples N refits it)"
        )
    if report.errors is not None:
        lines.append(
            f"mean rel.err: |V̂ − V| / V over {report.errors.runs} bootstrap samples of the log, "
            f"{c.model} reward model cross-fitted ({c.folds} folds) on each"
        )
    return lines


def estimator_list(text: str | None) -> tuple[str, ...]:
    if not text:
        return ESTIMATORS
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    return names or ESTIMATORS


def metrics_for_mlflow(report: LogEvaluationReport) -> dict[str, float]:
    out: dict[str, float] = {}
    payload = report.to_dict()
    for name, entry in payload["estimates"].items():
        for key, value in entry.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"{name}.{key}"] = float(value)
    for key, value in payload["weights"].items():
        out[f"weights.{key}"] = float(value)
    out["logged_mean_reward"] = report.logged_mean
    if report.truth is not None:
        out["on_policy_value"] = report.truth
    return out
