"""Experiments in the database: create one, let its policy choose a variant, count sends.

Arm state lives in ``arm_stats`` as sufficient statistics, changed only by atomic SQL
increments (``SET sends = sends + 1``), so several workers can share one experiment. The caller
owns the transaction (these functions never commit). Rewards: see ``rewards.py``.

Policies see a variant's confirmed sends as its pulls: a send whose reward is still pending
counts as a failure until the reward arrives (conservative; the schema has no per-arm count of
resolved sends).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.bandits.base import BasePolicy
from optimizer.bandits.contextual import ContextualThompson, LeadContext
from optimizer.bandits.guardrail import GuardrailConfig
from optimizer.bandits.holdout import HOLDOUT_PARAM, holdout_share
from optimizer.bandits.registry import make_policy, policy_class
from optimizer.errors import Conflict, InvalidInput, NotFound
from optimizer.store import experiments_repo as repo
from optimizer.store.db import Session
from optimizer.store.experiments_repo import load_arms, load_experiment
from optimizer.store.experiments_repo import read_arms as read_arms
from optimizer.store.experiments_repo import read_experiment as read_experiment
from optimizer.store.models import ArmStats, Experiment, Variant
from optimizer.store.segment_stats import SegmentArmCount, segment_arm_counts

BINARY_METRICS = ("reply", "click", "conversion")
METRICS = (*BINARY_METRICS, "revenue")
OPT_OUT_METRIC = "opt_out"


@dataclass(frozen=True)
class VariantChoice:
    variant_id: int
    propensity: float
    policy: str
    reason: str
    variant_name: str
    template: str
    probabilities: tuple[tuple[int, float], ...] = ()  # (variant id, probability) per arm
    segment: str | None = None  # the lead's segment, for a contextual policy


# What a decision's variant choice is called with: its generator, the eligible variant ids
# (None: all) and what it knows of the lead (used by a contextual policy only).
VariantChooser = Callable[
    [np.random.Generator, Sequence[int] | None, LeadContext | None], VariantChoice
]


def _aware(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise InvalidInput(f"now {now.isoformat()} has no time zone (aware UTC expected)")
    return now.astimezone(dt.UTC)


# Stored with an experiment's policy parameters but not parameters of its variant policy.
EXPERIMENT_LEVEL_PARAMS = ("guardrail", HOLDOUT_PARAM)


def _policy_params(experiment: Experiment) -> dict[str, Any]:
    return policy_only(experiment.policy_params or {})


def policy_only(params: Mapping[str, Any]) -> dict[str, Any]:
    """The variant policy's own parameters among an experiment's stored ones."""
    return {k: v for k, v in params.items() if k not in EXPERIMENT_LEVEL_PARAMS}


def create_experiment(
    session: Session,
    *,
    name: str,
    metric: str,
    policy: str,
    variants: list[tuple[str, str]],
    control: str | None,
    params: Mapping[str, Any] | None,
    attribution_hours: int,
    seed: int,
    now: dt.datetime,
) -> Experiment:
    """Create an experiment, its variants (in the given order) and zeroed arm statistics."""
    now = _aware(now)
    if not name or not name.strip():
        raise InvalidInput("experiment name is empty", field="name")
    if metric not in METRICS:
        raise InvalidInput(
            f"metric {metric!r} is unknown (expected one of {', '.join(METRICS)})", field="metric"
        )
    policy_class(policy)
    if metric == "revenue" and policy in ("thompson", ContextualThompson.name):
        raise InvalidInput(
            f"policy {policy!r} models a 0/1 reward; use 'thompson_normal' for metric 'revenue'",
            field="policy",
        )
    if len(variants) < 2:
        raise InvalidInput(
            f"{len(variants)} variant(s) given: at least 2 expected", field="variants"
        )
    names = [v[0] for v in variants]
    if any(not n or not n.strip() for n in names):
        raise InvalidInput("a variant name is empty", field="variants")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(f"variant name(s) {', '.join(duplicates)} given twice", field="variants")
    if control is not None and control not in names:
        raise InvalidInput(
            f"control {control!r} is not one of the variants ({', '.join(names)})",
            field="control",
        )
    if attribution_hours < 1:
        raise InvalidInput(
            f"attribution_hours {attribution_hours!r}: must be >= 1", field="attribution_hours"
        )
    stored = dict(params or {})
    GuardrailConfig.from_params(stored.get("guardrail"))
    if HOLDOUT_PARAM in stored:
        stored[HOLDOUT_PARAM] = holdout_share(stored[HOLDOUT_PARAM])
    policy_params = policy_only(stored)
    make_policy(policy, len(variants), policy_params)  # validates the parameters
    if repo.experiment_id_by_name(session, name=name) is not None:
        raise Conflict(f"experiment {name!r} already exists", field="name")
    return repo.add_experiment(
        session,
        name=name,
        metric=metric,
        policy=policy,
        params=stored,
        variants=variants,
        weights=policy_params.get("weights"),
        control=control,
        attribution_hours=attribution_hours,
        seed=seed,
        now=now,
    )


def build_policy(
    experiment: Experiment,
    arms: Sequence[tuple[Variant, ArmStats]],
    segment_counts: Sequence[SegmentArmCount] = (),
) -> BasePolicy:
    """The experiment's policy loaded with the arms' statistics from the database (and, for a
    contextual policy, the per-segment counts of :func:`load_segment_counts`)."""
    params = _policy_params(experiment)
    if experiment.policy == "fixed_split":
        weights = [v.weight for v, _ in arms]
        if all(w is not None for w in weights):
            params["weights"] = tuple(float(w) for w in weights)  # type: ignore[arg-type]
    policy = make_policy(experiment.policy, len(arms), params)
    binary = experiment.metric in BINARY_METRICS
    for arm, (_, stats) in enumerate(arms):
        reward_sum = float(stats.successes) if binary else stats.revenue_sum
        policy.set_arm(
            arm,
            pulls=int(stats.sends),
            reward_sum=reward_sum,
            reward_sum_sq=reward_sum if binary else stats.revenue_sum_sq,
        )
    if isinstance(policy, ContextualThompson):
        load_segments(policy, arms, segment_counts)
    return policy


def load_segments(
    policy: ContextualThompson,
    arms: Sequence[tuple[Variant, ArmStats]],
    counts: Sequence[SegmentArmCount],
) -> None:
    """Sum the log's counts into the policy's segments (several feature values may share a
    key: ``segment_key`` normalises them); counts of variants not in ``arms`` are ignored."""
    position = {v.id: i for i, (v, _) in enumerate(arms)}
    totals: dict[tuple[str, int], list[int]] = {}
    for row in counts:
        arm = position.get(row.variant_id)
        if arm is None:
            continue
        key = policy.key(LeadContext(row.source, row.vertical, row.band))
        total = totals.setdefault((key, arm), [0, 0])
        total[0] += row.sends
        total[1] += min(row.successes, row.sends)
    for (key, arm), (sends, successes) in totals.items():
        policy.set_segment_arm(key, arm, pulls=sends, reward_sum=float(successes))


# A contextual experiment's per-segment counts are a grouped query over its decision log (its
# cost grows with the sends: ~25 ms at 10,000 on SQLite). Each process keeps the last counts
# of each experiment with the arms' totals they were read at: the same totals mean the same
# counts (a send and a success move ``arm_stats`` in the transaction that logs them), so they
# are reused as they are; after a change they are read again once the decision time has moved
# SEGMENT_REFRESH past the last read (the pooled statistics are always read fresh).
SEGMENT_REFRESH = dt.timedelta(seconds=60)
MAX_CACHED_EXPERIMENTS = 256
_SegmentKey = tuple[str, int, str, str]
_Fingerprint = tuple[tuple[int, int, int], ...]
_segment_cache: dict[_SegmentKey, tuple[_Fingerprint, dt.datetime, list[SegmentArmCount]]] = {}
_segment_lock = threading.Lock()


def load_segment_counts(
    session: Session,
    experiment: Experiment,
    arms: Sequence[tuple[Variant, ArmStats]] | None = None,
    now: dt.datetime | None = None,
) -> list[SegmentArmCount]:
    """The per-segment counts a contextual experiment's policy needs (none for the others).

    Without ``arms`` and ``now`` they are read from the log; with them, the process's last
    read is reused while the arms' totals are unchanged, or for SEGMENT_REFRESH of decision
    time after they changed."""
    if experiment.policy != ContextualThompson.name:
        return []
    if arms is None or now is None:
        return segment_arm_counts(session, experiment_id=experiment.id, metric=experiment.metric)
    now = _aware(now)
    fingerprint = tuple((int(v.id), int(s.sends), int(s.successes)) for v, s in arms)
    key = (
        str(session.get_bind().engine.url),
        int(experiment.id),
        str(experiment.name),
        str(experiment.metric),
    )
    with _segment_lock:
        cached = _segment_cache.get(key)
    if cached is not None:
        seen, read_at, counts = cached
        if seen == fingerprint or read_at <= now < read_at + SEGMENT_REFRESH:
            return counts
    counts = segment_arm_counts(session, experiment_id=experiment.id, metric=experiment.metric)
    with _segment_lock:
        if len(_segment_cache) >= MAX_CACHED_EXPERIMENTS:
            _segment_cache.clear()
        _segment_cache[key] = (fingerprint, now, counts)
    return counts


def choose_variant(
    session: Session,
    *,
    experiment_id: int,
    rng: np.random.Generator,
    eligible_variant_ids: Sequence[int] | None,
    now: dt.datetime,
    context: LeadContext | None = None,
) -> VariantChoice:
    """Let the experiment's policy choose among the eligible, not-paused variants (a contextual
    policy for the lead's segment from ``context``).

    The propensity is the probability of this choice over that eligible set.
    """
    return variant_chooser(session, experiment_id=experiment_id, now=now)(
        rng, eligible_variant_ids, context
    )


def variant_chooser(
    session: Session,
    *,
    experiment_id: int,
    now: dt.datetime,
    arms: Sequence[tuple[Variant, ArmStats]] | None = None,
    experiment: Experiment | None = None,
) -> VariantChooser:
    """:func:`choose_variant` for many decisions on one state (a batch): the experiment and its
    arms are loaded once; each call chooses for one decision. Thompson's Monte-Carlo estimate of
    the arm probabilities is drawn once for the batch; every choice samples from it with its own
    generator, so each logged propensity is still exactly the probability of that choice.
    ``arms`` (from :func:`load_arms` in the same session) and ``experiment`` (its row, read in
    the same session) save loading them again. A contextual policy's per-segment counts are
    read from the decision log here, once; its estimate is drawn once per segment."""
    _aware(now)
    if experiment is None or experiment.id != experiment_id:
        experiment = load_experiment(session, experiment_id)
    if experiment.status != "running":
        raise Conflict(
            f"experiment {experiment.name!r} is {experiment.status} (running expected)",
            field="experiment_id",
        )
    if arms is None:
        arms = load_arms(session, experiment_id)
    known = {v.id for v, _ in arms}
    policy = build_policy(experiment, arms, load_segment_counts(session, experiment, arms, now))

    def choose(
        rng: np.random.Generator,
        eligible_variant_ids: Sequence[int] | None,
        context: LeadContext | None = None,
    ) -> VariantChoice:
        wanted = set(eligible_variant_ids) if eligible_variant_ids is not None else known
        unknown = sorted(wanted - known)
        if unknown:
            raise InvalidInput(
                f"variant id(s) {unknown} do not belong to experiment {experiment.name!r}",
                field="eligible_variant_ids",
            )
        eligible = [i for i, (v, _) in enumerate(arms) if v.id in wanted and not v.paused]
        if not eligible:
            raise Conflict(
                f"experiment {experiment.name!r}: no variant is both eligible and not paused",
                field="eligible_variant_ids",
            )
        segment = None
        if isinstance(policy, ContextualThompson):
            segment = policy.key(context)
            choice = policy.select(rng, eligible, segment)
        else:
            choice = policy.select(rng, eligible)
        variant = arms[choice.arm][0]
        return VariantChoice(
            variant.id,
            choice.propensity,
            experiment.policy,
            choice.reason,
            variant.name,
            variant.template,
            tuple((arms[i][0].id, p) for i, p in enumerate(choice.probabilities) if p > 0),
            segment,
        )

    return choose


def record_send(
    session: Session,
    *,
    experiment_id: int,
    variant_id: int,
    propensity: float,
    now: dt.datetime | None = None,
) -> None:
    """Count one confirmed send and its inverse propensity, atomically in SQL."""
    if not (isinstance(propensity, int | float) and 0.0 < propensity <= 1.0):
        raise InvalidInput(f"propensity {propensity!r}: must be in (0, 1]", field="propensity")
    changed = repo.count_send(
        session,
        experiment_id=experiment_id,
        variant_id=variant_id,
        propensity=float(propensity),
        now=None if now is None else _aware(now),
    )
    if changed != 1:
        raise NotFound(
            f"variant {variant_id!r} of experiment {experiment_id!r} does not exist",
            field="variant_id",
        )
