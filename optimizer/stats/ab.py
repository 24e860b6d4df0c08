"""One call for an A/B/n readout: rates, intervals, probability to be best, lift, p-values,
sample-ratio mismatch and the verdict, from per-arm summary statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from optimizer.errors import InvalidInput
from optimizer.stats.bayes import DEFAULT_DRAWS, prob_best_and_loss
from optimizer.stats.frequentist import (
    anova_p_value,
    chi_square_p_value,
    lift_binary,
    lift_continuous,
)
from optimizer.stats.intervals import mean_interval, wilson_interval
from optimizer.stats.srm import SrmResult, srm_against_weights
from optimizer.stats.summary import ArmSummary, check_arms
from optimizer.stats.verdict import Verdict, decide

METRICS = ("binary", "continuous")


@dataclass(frozen=True)
class ArmResult:
    name: str
    sends: int
    successes: int
    rate: float  # success rate (binary) or mean value per send (continuous)
    ci_low: float
    ci_high: float
    prob_best: float
    expected_loss: float
    is_control: bool
    lift: float | None
    lift_ci_low: float | None
    lift_ci_high: float | None
    difference: float | None
    difference_ci_low: float | None
    difference_ci_high: float | None
    p_value_vs_control: float | None


@dataclass(frozen=True)
class ABResult:
    metric: str
    control: str
    arms: tuple[ArmResult, ...]
    p_value: float | None
    srm: SrmResult | None
    verdict: Verdict
    seed: int
    draws: int

    @property
    def srm_p_value(self) -> float | None:
        return self.srm.p_value if self.srm else None

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "control": self.control,
            "arms": [asdict(arm) for arm in self.arms],
            "p_value": self.p_value,
            "srm_p_value": self.srm_p_value,
            "srm": asdict(self.srm) if self.srm else None,
            "verdict": self.verdict.message,
            "verdict_status": self.verdict.status,
            "winner": self.verdict.winner,
            "more_sends_per_arm": self.verdict.more_sends_per_arm,
            "seed": self.seed,
            "draws": self.draws,
        }


def analyze(
    arms: Sequence[ArmSummary],
    *,
    control: str | None = None,
    metric: str = "binary",
    weights: Sequence[float] | None = None,
    srm: SrmResult | None = None,
    seed: int = 0,
    draws: int = DEFAULT_DRAWS,
    label: str = "rate",
) -> ABResult:
    """Read out an experiment. ``weights`` (intended split) default to equal shares; pass
    ``srm`` (e.g. against logged propensities) to replace the weights check."""
    arms = tuple(arms)
    check_arms(arms)
    if metric not in METRICS:
        raise InvalidInput(f"metric {metric!r}: expected one of {', '.join(METRICS)}")
    names = [a.name for a in arms]
    control = control if control is not None else names[0]
    if control not in names:
        raise InvalidInput(
            f"control {control!r} is not one of the arms ({', '.join(names)})", field="control"
        )
    if draws < 1:
        raise InvalidInput(f"draws {draws!r}: must be >= 1", field="draws")
    if srm is None:
        srm = srm_against_weights([a.sends for a in arms], weights or [1.0 / len(arms)] * len(arms))
    bayes = prob_best_and_loss(arms, metric=metric, draws=draws, seed=seed)
    base = arms[names.index(control)]
    results = []
    for i, arm in enumerate(arms):
        if metric == "binary":
            value = arm.rate
            low, high = wilson_interval(arm.successes, arm.sends)
            lift = lift_binary(arm, base)
        else:
            value = arm.mean
            low, high = mean_interval(arm.mean, arm.variance, arm.sends)
            lift = lift_continuous(arm, base)
        is_control = arm.name == control
        results.append(
            ArmResult(
                arm.name,
                arm.sends,
                arm.successes,
                value,
                low,
                high,
                bayes.prob_best[i],
                bayes.expected_loss[i],
                is_control,
                None if is_control else lift.lift,
                None if is_control else lift.ci_low,
                None if is_control else lift.ci_high,
                None if is_control else lift.difference,
                None if is_control else lift.difference_ci_low,
                None if is_control else lift.difference_ci_high,
                None if is_control else lift.p_value,
            )
        )
    p_value = chi_square_p_value(arms) if metric == "binary" else anova_p_value(arms)
    verdict = decide(arms, bayes.prob_best, bayes.expected_loss, srm, metric=metric, label=label)
    return ABResult(metric, control, tuple(results), p_value, srm, verdict, seed, draws)
