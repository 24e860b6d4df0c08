"""An experiment's read-out from the database: per-variant counts, the statistics package's
answers (rates, intervals, probability to be best, lift, p-value, SRM, verdict) and effects
re-estimated from the logged propensities."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass

import numpy as np

from optimizer.bandits.experiment_store import BINARY_METRICS, load_arms, load_experiment
from optimizer.bandits.guardrail import GuardrailConfig, GuardrailFlag, opt_out_guardrail
from optimizer.bandits.holdout import HOLDOUT_REASON, share_of
from optimizer.stats.ab import ABResult, analyze
from optimizer.stats.frequentist import lift_continuous
from optimizer.stats.intervals import newcombe_difference
from optimizer.stats.ipw import IpwArm, ipw_estimates
from optimizer.stats.srm import (
    srm_against_expected,
    srm_against_propensities,
    srm_against_weights,
)
from optimizer.stats.summary import ArmSummary
from optimizer.store import rewards_repo
from optimizer.store.db import Session
from optimizer.store.holdout_log import load_assigned_decisions, load_outcome_events
from optimizer.store.models import Experiment
from optimizer.store.provider_messages import VariantDelivery, delivery_by_variant
from optimizer.vocabulary import NOT_OUTCOME_INTENTS, outcome_types

LABELS = {
    "reply": "reply rate",
    "click": "click rate",
    "conversion": "conversion rate",
    "revenue": "revenue per send",
}


@dataclass(frozen=True)
class VariantStats:
    variant_id: int
    name: str
    paused: bool
    pause_reason: str | None
    sends: int
    successes: int
    revenue_sum: float
    revenue_sum_sq: float
    opt_outs: int
    opt_out_rate: float
    propensity_inv_sum: float
    resolved: int  # sends whose reward is known (outcome or closed window)
    pending: int  # sends still inside their attribution window
    # Sends a carrier filtered (Twilio 30007, Telnyx 40002): the content may be the cause.
    content_flags: int = 0
    # Delivery receipts of the sends linked to a provider message (docs/providers.md).
    delivery: dict[str, object] | None = None


@dataclass(frozen=True)
class HoldoutLift:
    """What the texts add: the experiment's leads assigned to be texted against its randomised
    holdout (intention to treat: a lead counts in the group it was assigned to, sent or not),
    the metric's outcome within the attribution window of each lead's first assigned decision.
    For a binary metric the rate of leads with an outcome and Newcombe's interval of the
    difference; for revenue the value per lead and a normal interval."""

    share: float
    metric: str
    texted_leads: int
    held_out_leads: int
    texted_outcomes: int  # leads with at least one outcome in their window
    held_out_outcomes: int
    texted_rate: float  # per lead: the share with an outcome, or the revenue per lead
    held_out_rate: float
    difference: float | None  # texted − held out
    difference_low: float | None
    difference_high: float | None
    confidence: float
    message: str


@dataclass(frozen=True)
class ExperimentResults:
    experiment_id: int
    name: str
    metric: str
    policy: str
    status: str
    variants: tuple[VariantStats, ...]
    ab: ABResult
    ipw: tuple[IpwArm, ...]
    guardrail: tuple[GuardrailFlag, ...]
    holdout: HoldoutLift | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "experiment_id": self.experiment_id,
            "name": self.name,
            "metric": self.metric,
            "policy": self.policy,
            "status": self.status,
            "variants": [asdict(v) for v in self.variants],
            "ab": self.ab.to_dict(),
            "ipw": [asdict(arm) for arm in self.ipw],
            "guardrail": [asdict(flag) for flag in self.guardrail],
            "verdict": self.ab.verdict.message,
            "holdout": asdict(self.holdout) if self.holdout else None,
        }


def _delivery(found: VariantDelivery | None) -> dict[str, object]:
    if found is None:
        return {
            "receipts": 0,
            "delivered": 0,
            "failed": 0,
            "delivery_rate": None,
            "error_codes": {},
        }
    receipts = found.sends_with_receipt
    return {
        "receipts": receipts,
        "delivered": found.delivered,
        "failed": found.failed,
        "delivery_rate": found.delivered / receipts if receipts else None,
        "error_codes": found.error_codes,
    }


def experiment_results(session: Session, *, experiment_id: int, seed: int = 0) -> ExperimentResults:
    experiment = load_experiment(session, experiment_id)
    arms = load_arms(session, experiment_id)
    position = {variant.id: i for i, (variant, _) in enumerate(arms)}
    rows = rewards_repo.sent_decisions_with_reward(
        session, experiment_id=experiment_id, metric=experiment.metric
    )
    k = len(arms)
    resolved = np.zeros(k, dtype=np.int64)
    inv_sq = np.zeros(k)
    ipw_arm, ipw_p, ipw_r = [], [], []
    expected = np.zeros(k)
    all_logged = bool(rows)
    for variant_id, propensity, reward, explanation in rows:
        i = position.get(variant_id) if variant_id is not None else None
        if i is None:
            continue
        logged = (explanation or {}).get("variant_probabilities")
        if logged:
            for vid, prob in logged.items():
                j = position.get(int(vid))
                if j is not None:
                    expected[j] += float(prob)
        else:
            all_logged = False
        if propensity:
            inv_sq[i] += 1.0 / (propensity * propensity)
        if reward is not None:
            resolved[i] += 1
            if propensity:
                ipw_arm.append(i)
                ipw_p.append(propensity)
                ipw_r.append(reward)
    binary = experiment.metric in BINARY_METRICS
    summaries = [
        ArmSummary(
            variant.name,
            int(stats.sends),
            int(stats.successes),
            float(stats.successes) if binary else stats.revenue_sum,
            float(stats.successes) if binary else stats.revenue_sum_sq,
        )
        for variant, stats in arms
    ]
    sends = [int(stats.sends) for _, stats in arms]
    if experiment.policy in ("fixed_split", "uniform"):
        weights = [v.weight for v, _ in arms]
        if any(w is None for w in weights):
            weights = [1.0 / k] * k
        srm = srm_against_weights(sends, [float(w) for w in weights])  # type: ignore[arg-type]
    elif all_logged:
        srm = srm_against_expected(sends, list(expected))
    else:
        srm = srm_against_propensities(
            sends, [stats.propensity_inv_sum for _, stats in arms], list(inv_sq)
        )
    control_name = next(
        (v.name for v, _ in arms if v.id == experiment.control_variant_id), arms[0][0].name
    )
    ab = analyze(
        summaries,
        control=control_name,
        metric="binary" if binary else "continuous",
        srm=srm,
        seed=seed,
        label=LABELS.get(experiment.metric, experiment.metric),
    )
    names = [v.name for v, _ in arms]
    control_index = names.index(control_name)
    ipw = ipw_estimates(
        names, np.array(ipw_arm), np.array(ipw_p), np.array(ipw_r), control=control_index
    )
    config = GuardrailConfig.from_params((experiment.policy_params or {}).get("guardrail"))
    flags = opt_out_guardrail(
        names, sends, [int(s.opt_outs) for _, s in arms], [not v.paused for v, _ in arms], config
    )
    receipts = delivery_by_variant(session, variant_ids=[v.id for v, _ in arms])
    variants = tuple(
        VariantStats(
            variant.id,
            variant.name,
            variant.paused,
            variant.pause_reason,
            int(stats.sends),
            int(stats.successes),
            stats.revenue_sum,
            stats.revenue_sum_sq,
            int(stats.opt_outs),
            stats.opt_outs / stats.sends if stats.sends else 0.0,
            stats.propensity_inv_sum,
            int(resolved[i]),
            max(int(stats.sends) - int(resolved[i]), 0),
            receipts[variant.id].content_flags if variant.id in receipts else 0,
            _delivery(receipts.get(variant.id)),
        )
        for i, (variant, stats) in enumerate(arms)
    )
    return ExperimentResults(
        experiment.id,
        experiment.name,
        experiment.metric,
        experiment.policy,
        experiment.status,
        variants,
        ab,
        ipw,
        flags,
        holdout_lift(session, experiment),
    )


def holdout_lift(
    session: Session, experiment: Experiment, *, confidence: float = 0.95
) -> HoldoutLift | None:
    """The holdout's read-out (see :class:`HoldoutLift`); ``None`` when the experiment holds
    no one out."""
    share = share_of(experiment.policy_params)
    if share <= 0:
        return None
    assigned = load_assigned_decisions(
        session, experiment_ids=[experiment.id], holdout_reason=HOLDOUT_REASON
    )
    # Each lead's first assigned decision: a text the gate allowed, or a hold of the holdout.
    first: dict[int, tuple[dt.datetime, bool]] = {}
    for decision in assigned:
        if decision.lead_id in first:
            continue
        if decision.held_out or decision.action != "hold":
            first[decision.lead_id] = (decision.decided_at, decision.held_out)
    window = dt.timedelta(hours=experiment.attribution_hours)
    kinds = outcome_types(experiment.metric)
    value: dict[int, float] = {}
    hit: set[int] = set()
    for event in load_outcome_events(session, lead_ids=list(first), types=kinds):
        if event.intent in NOT_OUTCOME_INTENTS:
            continue  # a STOP or HELP is not a reply the text earned
        began, _held = first[event.lead_id]
        if began <= event.occurred_at <= began + window:
            hit.add(event.lead_id)
            value[event.lead_id] = value.get(event.lead_id, 0.0) + float(event.value or 0.0)
    groups: dict[bool, list[int]] = {True: [], False: []}
    for lead_id, (_began, held) in first.items():
        groups[held].append(lead_id)
    texted, held_out = groups[False], groups[True]
    texted_hits = sum(1 for i in texted if i in hit)
    held_hits = sum(1 for i in held_out if i in hit)
    difference = low = high = None
    if experiment.metric in BINARY_METRICS:
        texted_rate = texted_hits / len(texted) if texted else 0.0
        held_rate = held_hits / len(held_out) if held_out else 0.0
        if texted and held_out:
            difference = texted_rate - held_rate
            low, high = newcombe_difference(
                texted_hits, len(texted), held_hits, len(held_out), confidence
            )
        unit = "pp"
        scale = 100.0
    else:
        t_values = [value.get(i, 0.0) for i in texted]
        h_values = [value.get(i, 0.0) for i in held_out]
        texted_rate = sum(t_values) / len(texted) if texted else 0.0
        held_rate = sum(h_values) / len(held_out) if held_out else 0.0
        if len(texted) > 1 and len(held_out) > 1:
            lift = lift_continuous(_summary("texted", t_values), _summary("held out", h_values))
            difference = lift.difference
            low, high = lift.difference_ci_low, lift.difference_ci_high
        unit = "per lead"
        scale = 1.0
    label = LABELS.get(experiment.metric, experiment.metric)
    if difference is None or low is None or high is None or not math.isfinite(low):
        message = (
            f"holdout of {share:.0%}: {len(texted)} leads texted, {len(held_out)} held out; "
            "not enough leads in both groups for an estimate yet"
        )
    else:
        message = (
            f"texts add {difference * scale:+.2f} {unit} of {label.replace(' per send', '')} "
            f"({confidence:.0%} interval {low * scale:+.2f} to {high * scale:+.2f}); "
            f"{len(texted)} leads texted, {len(held_out)} held out"
        )
    return HoldoutLift(
        share=share,
        metric=experiment.metric,
        texted_leads=len(texted),
        held_out_leads=len(held_out),
        texted_outcomes=texted_hits,
        held_out_outcomes=held_hits,
        texted_rate=texted_rate,
        held_out_rate=held_rate,
        difference=difference,
        difference_low=low,
        difference_high=high,
        confidence=confidence,
        message=message,
    )


def _summary(name: str, values: list[float]) -> ArmSummary:
    return ArmSummary(name, len(values), 0, float(sum(values)), float(sum(v * v for v in values)))
