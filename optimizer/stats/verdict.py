"""The plain-language verdict: every user-facing sentence of this package lives here.

Rules, in order:
1. not_enough_data — fewer than ``min_sends`` sends per arm on average, an arm below
   ``min_arm_sends`` (a bandit starves losers on purpose, hence the lower floor per arm), or
   no success at all yet;
2. srm — the traffic split does not match the intended split (p < 0.001): fix that first;
3. ship — the leader is at least ``prob_threshold`` likely to be best and choosing it costs at
   most ``loss_threshold`` in expectation;
4. no_difference — choosing *any* arm costs at most ``loss_threshold``: the arms are
   practically equal;
5. keep_running — otherwise, with the sends per arm a classic test would need to detect the
   gap seen between the two leaders (at least a 10% relative effect), minus what is in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from optimizer.stats.sample_size import sample_size_per_arm
from optimizer.stats.srm import SrmResult
from optimizer.stats.summary import ArmSummary

MIN_SENDS = 100  # per arm, on average
MIN_ARM_SENDS = 30
PROB_THRESHOLD = 0.95
BINARY_LOSS_THRESHOLD = 0.001  # 0.1 points of rate
CONTINUOUS_LOSS_SHARE = 0.01  # 1% of the leader's mean value per send


@dataclass(frozen=True)
class Verdict:
    status: str  # not_enough_data | srm | ship | no_difference | keep_running
    message: str
    winner: str | None = None
    more_sends_per_arm: int | None = None


def _amount(value: float, metric: str, label: str) -> str:
    if metric == "binary":
        return f"{value * 100:.2g} points of {label}"
    return f"{value:.4g} of {label}"


def decide(
    arms: Sequence[ArmSummary],
    prob_best: Sequence[float],
    expected_loss: Sequence[float],
    srm: SrmResult | None,
    *,
    metric: str = "binary",
    label: str = "rate",
    min_sends: int = MIN_SENDS,
    min_arm_sends: int = MIN_ARM_SENDS,
    prob_threshold: float = PROB_THRESHOLD,
    loss_threshold: float | None = None,
) -> Verdict:
    total = sum(a.sends for a in arms)
    if total < min_sends * len(arms):
        return Verdict(
            "not_enough_data",
            f"Not enough data yet: {total:,} sends so far, at least {min_sends * len(arms):,} "
            f"({min_sends} per variant on average) needed.",
        )
    thin = [a for a in arms if a.sends < min_arm_sends]
    if thin:
        listed = ", ".join(f"{a.name} has {a.sends}" for a in thin)
        return Verdict(
            "not_enough_data",
            f"Not enough data yet: every variant needs at least {min_arm_sends} sends ({listed}).",
        )
    if metric == "binary" and sum(a.successes for a in arms) == 0:
        return Verdict(
            "not_enough_data", f"Not enough data yet: no variant has a success ({label}) so far."
        )
    if srm is not None and srm.mismatch:
        return Verdict(
            "srm",
            f"Sample ratio mismatch (p = {srm.p_value:.2g}): the traffic split is not the one "
            "intended; fix the assignment before trusting these results.",
        )
    leader = max(range(len(arms)), key=lambda i: prob_best[i])
    name = arms[leader].name
    if loss_threshold is None:
        loss_threshold = (
            BINARY_LOSS_THRESHOLD
            if metric == "binary"
            else CONTINUOUS_LOSS_SHARE * abs(arms[leader].mean)
        )
    if prob_best[leader] >= prob_threshold and expected_loss[leader] <= loss_threshold:
        return Verdict(
            "ship",
            f"Variant {name} is {prob_best[leader]:.0%} likely to be best; choosing it now risks "
            f"at most {_amount(expected_loss[leader], metric, label)} — ship {name}.",
            winner=name,
        )
    if max(expected_loss) <= loss_threshold:
        return Verdict(
            "no_difference",
            "No meaningful difference likely: choosing any variant risks at most "
            f"{_amount(max(expected_loss), metric, label)}; pick on other grounds.",
        )
    more = _more_sends(arms, leader, metric)
    return Verdict(
        "keep_running",
        f"Keep running: about {more:,} more sends per variant needed "
        f"(variant {name} leads, {prob_best[leader]:.0%} likely to be best).",
        more_sends_per_arm=more,
    )


def _more_sends(arms: Sequence[ArmSummary], leader: int, metric: str) -> int:
    values = [a.rate if metric == "binary" else a.mean for a in arms]
    runner_up = max((i for i in range(len(arms)) if i != leader), key=lambda i: values[i])
    current = min(a.sends for a in arms)
    if metric != "binary" or not 0 < values[runner_up] < 1:
        return max(current // 2, 1)
    gap = max(abs(values[leader] - values[runner_up]), 0.1 * values[runner_up])
    gap = min(gap, 0.999 - values[runner_up])
    needed = sample_size_per_arm(values[runner_up], gap, arms=len(arms)).per_arm
    return max(needed - current, current // 4, 1)
