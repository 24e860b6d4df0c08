"""An experiment's read-out from the database: per-variant counts, the statistics package's
answers (rates, intervals, probability to be best, lift, p-value, SRM, verdict) and effects
re-estimated from the logged propensities."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import and_, select, true
from sqlalchemy.orm import Session

from optimizer.bandits.experiment_store import BINARY_METRICS, load_arms, load_experiment
from optimizer.bandits.guardrail import GuardrailConfig, GuardrailFlag, opt_out_guardrail
from optimizer.stats.ab import ABResult, analyze
from optimizer.stats.ipw import IpwArm, ipw_estimates
from optimizer.stats.srm import (
    srm_against_expected,
    srm_against_propensities,
    srm_against_weights,
)
from optimizer.stats.summary import ArmSummary
from optimizer.store.models import Decision, DecisionConfirmation, DecisionReward
from optimizer.store.provider_messages import VariantDelivery, delivery_by_variant

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
    rows = session.execute(
        select(
            Decision.variant_id, Decision.propensity, DecisionReward.reward, Decision.explanation
        )
        .join(
            DecisionConfirmation,
            and_(
                DecisionConfirmation.decision_id == Decision.id,
                DecisionConfirmation.allowed.is_(true()),
            ),
        )
        .outerjoin(
            DecisionReward,
            and_(
                DecisionReward.decision_id == Decision.id,
                DecisionReward.metric == experiment.metric,
            ),
        )
        .where(Decision.experiment_id == experiment_id, Decision.variant_id.is_not(None))
    ).all()
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
    )
