"""Experiment reports: the list of experiments and one experiment's results with chart data."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optimizer.bandits.results import HoldoutLift, holdout_lift
from optimizer.errors import NotFound, OptimizerError
from optimizer.reports.common import Jsonable, safe_rate
from optimizer.reports.experiment_stats import BINARY_METRICS, experiment_statistics
from optimizer.store.models import (
    ArmStats,
    Decision,
    DecisionReward,
    Event,
    Experiment,
    Variant,
)
from optimizer.store.policy_evaluations import StoredEvaluation, latest_evaluations
from optimizer.store.provider_messages import delivery_by_variant

CURVE_POINTS = 120
# An off-policy estimate resting on fewer effective sends than this is flagged as fragile.
MIN_EFFECTIVE_SAMPLE = 100
# The estimators the card's headline prefers, in order (revenue has no DR: SNIPW then).
HEADLINE_ESTIMATORS = ("dr", "snipw", "ipw")
EVALUATE_COMMAND = (
    "optimizer experiments evaluate-policy --log store --experiment {id} --policy "
    "uniform|variant:NAME|split:A=0.5,B=0.5"
)


@dataclass(frozen=True)
class VariantRow(Jsonable):
    variant_id: int
    name: str
    is_control: bool
    paused: bool
    pause_reason: str | None
    sends: int
    successes: int
    revenue: float
    opt_outs: int
    opt_out_rate: float | None
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    prob_best: float | None
    expected_loss: float | None
    lift: float | None
    lift_ci_low: float | None
    lift_ci_high: float | None
    ipw_rate: float | None
    guardrail_flag: str | None
    # Providers' delivery receipts of the variant's linked sends (docs/providers.md).
    receipts: int = 0
    delivery_rate: float | None = None
    content_flags: int = 0  # sends a carrier filtered (Twilio 30007, Telnyx 40002)


@dataclass(frozen=True)
class Series(Jsonable):
    """One line of a chart: ``name`` and points ``(x, y)``."""

    name: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]


@dataclass(frozen=True)
class DailySeries(Jsonable):
    name: str
    days: tuple[dt.date, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class AllocationRow(Jsonable):
    """Why the policy sent traffic to a variant: decisions by the kind of choice."""

    variant_id: int
    name: str
    decisions: int
    by_reason: tuple[tuple[str, int], ...]  # (policy | burn_in | min_share | only_arm, count)


CHOICE_REASONS = ("policy", "burn_in", "min_share", "only_arm")


@dataclass(frozen=True)
class ExperimentReport(Jsonable):
    id: int
    name: str
    status: str
    metric: str
    policy: str
    created_at: dt.datetime
    stopped_at: dt.datetime | None
    variants: tuple[VariantRow, ...]
    p_value: float | None
    srm_p_value: float | None
    srm_method: str  # weights | propensities | none
    srm_mismatch: bool
    verdict: str
    verdict_kind: str
    leader: str | None
    more_sends_per_arm: int | None
    stats_source: str
    posterior: tuple[Series, ...]
    traffic_share: tuple[DailySeries, ...]
    cumulative_successes: tuple[DailySeries, ...]
    allocation: tuple[AllocationRow, ...]
    decisions: int
    holdout: HoldoutLift | None = None
    # "Evaluate before rollout": the newest off-policy evaluations of candidate policies.
    evaluations: tuple[RolloutEvaluation, ...] = ()
    evaluate_command: str = ""


@dataclass(frozen=True)
class EstimateRow(Jsonable):
    estimator: str
    value: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class RolloutEvaluation(Jsonable):
    """One "evaluate before rollout" result: what a candidate policy would have earned on the
    experiment's own logged sends (off-policy), against what the logged policy earned."""

    evaluation_id: int
    policy: str
    candidate: dict[str, float]
    logging_policy: str
    metric: str
    rows: int
    pending: int
    evaluated_at: dt.datetime
    headline: str | None  # the estimator the verdict reads (dr, else snipw, else ipw)
    value: float | None
    ci_low: float | None
    ci_high: float | None
    current_value: float
    current_low: float
    current_high: float
    verdict_kind: str  # better | worse | not_distinguishable | unavailable
    verdict: str
    estimates: tuple[EstimateRow, ...]
    effective_sample_size: float
    max_weight: float
    small_sample: bool
    mlflow_run_id: str | None


def rollout_verdict(ci_low: float | None, ci_high: float | None, current: float) -> tuple[str, str]:
    """The candidate's interval against the logged policy's value, in a marketer's words."""
    if ci_low is None or ci_high is None:
        return "unavailable", "No estimate: the estimator gave no finite figure on this log."
    if ci_low > current:
        return "better", "Likely better than the current policy: its whole interval is above."
    if ci_high < current:
        return "worse", "Likely worse than the current policy: its whole interval is below."
    return (
        "not_distinguishable",
        "Not distinguishable yet: its interval includes the current policy's value.",
    )


def rollout_evaluation(stored: StoredEvaluation) -> RolloutEvaluation:
    headline = next((n for n in HEADLINE_ESTIMATORS if n in stored.estimates), None)
    figures = stored.estimates.get(headline) if headline else None
    value, low, high = (
        (figures.value, figures.ci_low, figures.ci_high) if figures else (None, None, None)
    )
    kind, verdict = rollout_verdict(low, high, stored.current_value)
    small = stored.effective_sample_size < MIN_EFFECTIVE_SAMPLE
    if small:
        verdict += (
            f" Fragile: it rests on an effective sample of {stored.effective_sample_size:,.0f}"
            f" sends (fewer than {MIN_EFFECTIVE_SAMPLE})."
        )
    return RolloutEvaluation(
        evaluation_id=stored.id,
        policy=stored.policy,
        candidate=dict(stored.candidate),
        logging_policy=stored.logging_policy,
        metric=stored.metric,
        rows=stored.rows,
        pending=stored.pending,
        evaluated_at=stored.evaluated_at,
        headline=headline,
        value=value,
        ci_low=low,
        ci_high=high,
        current_value=stored.current_value,
        current_low=stored.current_low,
        current_high=stored.current_high,
        verdict_kind=kind,
        verdict=verdict,
        estimates=tuple(
            EstimateRow(name, f.value, f.ci_low, f.ci_high) for name, f in stored.estimates.items()
        ),
        effective_sample_size=stored.effective_sample_size,
        max_weight=stored.max_weight,
        small_sample=small,
        mlflow_run_id=stored.mlflow_run_id,
    )


@dataclass(frozen=True)
class ExperimentSummary(Jsonable):
    id: int
    name: str
    status: str
    metric: str
    policy: str
    variants: int
    sends: int
    leader: str | None
    leader_prob_best: float | None
    verdict_kind: str
    created_at: dt.datetime
    note: str | None = None  # why the statistics are unavailable, if they are


@dataclass(frozen=True)
class ExperimentList(Jsonable):
    experiments: tuple[ExperimentSummary, ...]


def _arm_inputs(session: Session, experiment: Experiment) -> list[tuple[Variant, ArmStats | None]]:
    variants = session.scalars(
        select(Variant)
        .where(Variant.experiment_id == experiment.id)
        .order_by(Variant.position, Variant.id)
    ).all()
    stats = {
        row.variant_id: row
        for row in session.scalars(select(ArmStats).where(ArmStats.experiment_id == experiment.id))
    }
    return [(v, stats.get(v.id)) for v in variants]


def revenue_posterior(sends: int, revenue_sum: float, revenue_sum_sq: float) -> tuple[float, float]:
    """Mean revenue per send and its standard error (a wide curve when sends are few)."""
    if sends <= 1:
        return (0.0, 1.0)
    mean = revenue_sum / sends
    variance = max(revenue_sum_sq / sends - mean * mean, 1e-12)
    return (mean, math.sqrt(variance / sends))


def _posterior_curves(
    metric: str, pairs: Sequence[tuple[Variant, ArmStats | None]]
) -> tuple[Series, ...]:
    params = []
    for variant, stats in pairs:
        sends = int(stats.sends) if stats else 0
        successes = int(stats.successes) if stats else 0
        if metric in BINARY_METRICS:
            params.append((variant.name, sps.beta(1 + successes, 1 + max(sends - successes, 0))))
        else:
            mean, se = revenue_posterior(
                sends,
                float(stats.revenue_sum) if stats else 0.0,
                float(stats.revenue_sum_sq) if stats else 0.0,
            )
            params.append((variant.name, sps.norm(mean, se)))
    if not params:
        return ()
    low = min(float(dist.ppf(0.0005)) for _, dist in params)
    high = max(float(dist.ppf(0.9995)) for _, dist in params)
    if metric in BINARY_METRICS:
        low, high = max(0.0, low), min(1.0, high)
    if high <= low:
        high = low + 1e-3
    grid = np.linspace(low, high, CURVE_POINTS)
    return tuple(
        Series(
            name=name, xs=tuple(float(x) for x in grid), ys=tuple(float(y) for y in dist.pdf(grid))
        )  # fmt: skip
        for name, dist in params
    )


def _traffic_share(
    session: Session, experiment_id: int, names: dict[int, str]
) -> tuple[DailySeries, ...]:
    rows = session.execute(
        select(Decision.as_of, Decision.variant_id).where(
            Decision.experiment_id == experiment_id,
            Decision.variant_id.is_not(None),
            Decision.action != "suppress",
        )
    ).all()
    counts: dict[dt.date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for as_of, variant_id in rows:
        if variant_id is None:
            continue
        counts[as_of.astimezone(dt.UTC).date()][int(variant_id)] += 1
    days = tuple(sorted(counts))
    series = []
    for variant_id, name in names.items():
        values = tuple(
            (counts[d][variant_id] / sum(counts[d].values())) if counts[d] else 0.0 for d in days
        )
        series.append(DailySeries(name=name, days=days, values=values))
    return tuple(series) if days else ()


def _cumulative_successes(
    session: Session, experiment: Experiment, names: dict[int, str]
) -> tuple[DailySeries, ...]:
    rows = session.execute(
        select(DecisionReward.variant_id, DecisionReward.reward, DecisionReward.recorded_at,
               Event.occurred_at, Decision.variant_id)
        .join(Decision, Decision.id == DecisionReward.decision_id)
        .outerjoin(Event, Event.id == DecisionReward.event_id)
        .where(
            Decision.experiment_id == experiment.id,
            DecisionReward.metric == experiment.metric,
            DecisionReward.kind == "outcome",
            DecisionReward.reward > 0,
        )
    ).all()  # fmt: skip
    per_day: dict[dt.date, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for reward_variant, reward, recorded_at, occurred_at, decision_variant in rows:
        variant_id = reward_variant if reward_variant is not None else decision_variant
        if variant_id is None:
            continue
        moment = occurred_at or recorded_at
        amount = 1.0 if experiment.metric in BINARY_METRICS else float(reward)
        per_day[moment.astimezone(dt.UTC).date()][int(variant_id)] += amount
    days = tuple(sorted(per_day))
    if not days:
        return ()
    series = []
    for variant_id, name in names.items():
        running = 0.0
        values = []
        for day in days:
            running += per_day[day][variant_id]
            values.append(running)
        series.append(DailySeries(name=name, days=days, values=tuple(values)))
    return tuple(series)


def choice_reason(reasons: object) -> str:
    """The kind of choice recorded in a decision's ``variant.bandit`` reason.

    >>> choice_reason([{"code": "variant.bandit", "message": "thompson chose 'A' (burn_in)"}])
    'burn_in'
    """
    for item in reasons if isinstance(reasons, list) else ():
        if isinstance(item, dict) and item.get("code") == "variant.bandit":
            message = str(item.get("message", ""))
            tail = message.rsplit("(", 1)[-1].rstrip(")") if message.endswith(")") else ""
            return tail if tail in CHOICE_REASONS else "policy"
    return "policy"


def _allocation(
    session: Session, experiment_id: int, names: dict[int, str]
) -> tuple[AllocationRow, ...]:
    rows = session.execute(
        select(Decision.variant_id, Decision.reasons).where(
            Decision.experiment_id == experiment_id, Decision.variant_id.is_not(None)
        )
    ).all()
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for variant_id, reasons in rows:
        if variant_id is not None:
            counts[int(variant_id)][choice_reason(reasons)] += 1
    return tuple(
        AllocationRow(
            variant_id=variant_id,
            name=name,
            decisions=sum(counts[variant_id].values()),
            by_reason=tuple((r, counts[variant_id][r]) for r in CHOICE_REASONS),
        )
        for variant_id, name in names.items()
    )


def _load(session: Session, experiment_id: int) -> Experiment:
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise NotFound(
            f"experiment {experiment_id} does not exist (a known experiment id expected)"
        )
    return experiment


def experiment_report(session: Session, *, experiment_id: int, seed: int = 0) -> ExperimentReport:
    """Everything the experiment page shows: table, verdict, SRM, guardrail and chart data."""
    experiment = _load(session, experiment_id)
    pairs = _arm_inputs(session, experiment)
    statistics = experiment_statistics(session, experiment_id=experiment.id, seed=seed)
    by_id = {a.variant_id: a for a in statistics.arms}
    by_name = {a.name: a for a in statistics.arms}
    control_id = statistics.control_variant_id or experiment.control_variant_id
    rows = []
    receipts = delivery_by_variant(session, variant_ids=[v.id for v, _ in pairs])
    for variant, stats in pairs:
        arm = by_id.get(variant.id) or by_name.get(variant.name)
        delivery = receipts.get(variant.id)
        sends = int(stats.sends) if stats else 0
        opt_outs = int(stats.opt_outs) if stats else 0
        rows.append(
            VariantRow(
                variant_id=variant.id,
                name=variant.name,
                is_control=variant.id == control_id,
                paused=bool(variant.paused),
                pause_reason=variant.pause_reason,
                sends=sends,
                successes=int(stats.successes) if stats else 0,
                revenue=round(float(stats.revenue_sum), 2) if stats else 0.0,
                opt_outs=opt_outs,
                opt_out_rate=safe_rate(opt_outs, sends),
                rate=arm.rate if arm else None,
                ci_low=arm.ci_low if arm else None,
                ci_high=arm.ci_high if arm else None,
                prob_best=arm.prob_best if arm else None,
                expected_loss=arm.expected_loss if arm else None,
                lift=arm.lift if arm else None,
                lift_ci_low=arm.lift_ci_low if arm else None,
                lift_ci_high=arm.lift_ci_high if arm else None,
                ipw_rate=arm.ipw_rate if arm else None,
                guardrail_flag=arm.guardrail_flag if arm else None,
                receipts=delivery.sends_with_receipt if delivery else 0,
                delivery_rate=safe_rate(delivery.delivered, delivery.sends_with_receipt)
                if delivery
                else None,
                content_flags=delivery.content_flags if delivery else 0,
            )
        )
    names = {v.id: v.name for v, _ in pairs}
    leader = names.get(statistics.leader_variant_id) if statistics.leader_variant_id else None
    decisions = session.scalar(
        select(func.count()).select_from(Decision).where(Decision.experiment_id == experiment.id)
    )
    return ExperimentReport(
        id=experiment.id,
        name=experiment.name,
        status=experiment.status,
        metric=experiment.metric,
        policy=experiment.policy,
        created_at=experiment.created_at,
        stopped_at=experiment.stopped_at,
        variants=tuple(rows),
        p_value=statistics.p_value,
        srm_p_value=statistics.srm_p_value,
        srm_method=statistics.srm_method,
        srm_mismatch=statistics.srm_mismatch,
        verdict=statistics.verdict,
        verdict_kind=statistics.verdict_kind,
        leader=leader if statistics.verdict_kind != "not_enough_data" else None,
        more_sends_per_arm=statistics.more_sends_per_arm,
        stats_source=statistics.source,
        posterior=_posterior_curves(experiment.metric, pairs),
        traffic_share=_traffic_share(session, experiment.id, names),
        cumulative_successes=_cumulative_successes(session, experiment, names),
        allocation=_allocation(session, experiment.id, names),
        decisions=int(decisions or 0),
        holdout=holdout_lift(session, experiment),
        evaluations=tuple(
            rollout_evaluation(e) for e in latest_evaluations(session, experiment.id)
        ),
        evaluate_command=EVALUATE_COMMAND.format(id=experiment.id),
    )


def _unavailable(experiment: Experiment, why: str) -> ExperimentSummary:
    return ExperimentSummary(
        id=experiment.id, name=experiment.name, status=experiment.status,
        metric=experiment.metric, policy=experiment.policy, variants=0, sends=0, leader=None,
        leader_prob_best=None, verdict_kind="unavailable", created_at=experiment.created_at,
        note=why,
    )  # fmt: skip


def experiment_list(session: Session, *, seed: int = 0) -> ExperimentList:
    """Every experiment, newest first, with its leader and probability to be best."""
    experiments = session.scalars(
        select(Experiment).order_by(Experiment.created_at.desc(), Experiment.id.desc())
    ).all()
    summaries = []
    for experiment in experiments:
        try:
            statistics = experiment_statistics(session, experiment_id=experiment.id, seed=seed)
        except OptimizerError as exc:
            # One experiment the statistics cannot read must not hide the others.
            summaries.append(_unavailable(experiment, exc.message))
            continue
        leader = next(
            (a for a in statistics.arms if a.variant_id == statistics.leader_variant_id), None
        )
        summaries.append(
            ExperimentSummary(
                id=experiment.id,
                name=experiment.name,
                status=experiment.status,
                metric=experiment.metric,
                policy=experiment.policy,
                variants=len(statistics.arms),
                sends=sum(a.sends for a in statistics.arms),
                leader=leader.name if leader else None,
                leader_prob_best=leader.prob_best if leader else None,
                verdict_kind=statistics.verdict_kind,
                created_at=experiment.created_at,
            )
        )
    return ExperimentList(experiments=tuple(summaries))
