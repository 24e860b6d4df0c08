"""The one place the reports get experiment statistics from.

The figures come from the statistics package through
``optimizer.bandits.store.experiment_results`` (rates with intervals, probability to be best,
expected loss, lift, p-value, sample-ratio check, verdict, guardrail); this module maps its
result onto the report's own stable shape, so a change there is absorbed here only.
"""

from __future__ import annotations

from dataclasses import dataclass

from optimizer.reports.common import Jsonable
from optimizer.store.db import Session

BINARY_METRICS = ("reply", "click", "conversion")


@dataclass(frozen=True)
class ArmStatistics(Jsonable):
    variant_id: int
    name: str
    sends: int
    successes: int
    rate: float | None  # success rate, or revenue per send for the revenue metric
    ci_low: float | None
    ci_high: float | None
    prob_best: float | None
    expected_loss: float | None
    lift: float | None  # relative to the control
    lift_ci_low: float | None
    lift_ci_high: float | None
    ipw_rate: float | None  # the rate re-estimated from logged propensities
    guardrail_flag: str | None  # why the opt-out guardrail would pause this arm


@dataclass(frozen=True)
class ExperimentStatistics(Jsonable):
    metric: str
    arms: tuple[ArmStatistics, ...]
    control_variant_id: int | None
    p_value: float | None
    srm_p_value: float | None
    srm_method: str  # weights | propensities | none
    srm_mismatch: bool
    verdict: str
    verdict_kind: str  # not_enough_data | srm | ship | no_difference | keep_running
    leader_variant_id: int | None
    more_sends_per_arm: int | None
    source: str
    seed: int


def experiment_statistics(
    session: Session, *, experiment_id: int, seed: int = 0
) -> ExperimentStatistics:
    """The experiment's statistics (seeded Monte-Carlo), in the reports' shape."""
    from optimizer.bandits.store import experiment_results

    results = experiment_results(session, experiment_id=experiment_id, seed=seed)
    ab = results.ab
    by_name = {arm.name: arm for arm in ab.arms}
    ipw_by_name = {arm.name: arm for arm in results.ipw}
    flags = {flag.arm: flag.reason for flag in results.guardrail}
    arms = []
    control_id = None
    leader_id = None
    best_prob = -1.0
    for index, variant in enumerate(results.variants):
        arm = by_name.get(variant.name)
        ipw = ipw_by_name.get(variant.name)
        if arm is not None and arm.is_control:
            control_id = variant.variant_id
        if arm is not None and arm.prob_best > best_prob:
            best_prob, leader_id = arm.prob_best, variant.variant_id
        arms.append(
            ArmStatistics(
                variant_id=variant.variant_id,
                name=variant.name,
                sends=variant.sends,
                successes=variant.successes,
                rate=arm.rate if arm else None,
                ci_low=arm.ci_low if arm else None,
                ci_high=arm.ci_high if arm else None,
                prob_best=arm.prob_best if arm else None,
                expected_loss=arm.expected_loss if arm else None,
                lift=arm.lift if arm else None,
                lift_ci_low=arm.lift_ci_low if arm else None,
                lift_ci_high=arm.lift_ci_high if arm else None,
                ipw_rate=ipw.value if ipw is not None else None,
                guardrail_flag=flags.get(index),
            )
        )
    winner = next((a.variant_id for a in arms if a.name == ab.verdict.winner), None)
    srm = ab.srm
    return ExperimentStatistics(
        metric=results.metric,
        arms=tuple(arms),
        control_variant_id=control_id,
        p_value=ab.p_value,
        srm_p_value=srm.p_value if srm is not None else None,
        srm_method=srm.method if srm is not None else "none",
        srm_mismatch=bool(srm.mismatch) if srm is not None else False,
        verdict=ab.verdict.message,
        verdict_kind=ab.verdict.status,
        leader_variant_id=winner if winner is not None else leader_id,
        more_sends_per_arm=ab.verdict.more_sends_per_arm,
        source="optimizer.bandits.store.experiment_results",
        seed=seed,
    )
