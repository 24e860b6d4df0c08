"""Uplift training data from the service's own randomised holdouts.

An experiment with a holdout (``policy_params["holdout"]``, see :mod:`optimizer.bandits.holdout`)
holds a fixed random share of its leads out: the gate would have allowed their text, but none
is sent. One row per (experiment, lead), at the lead's first assigned decision:

- **treated**: a sendable decision (``send_now`` / ``send_at``) whose dispatch-time
  confirmation allowed the text; its propensity is 1 − share;
- **control**: a ``hold`` of the holdout (reason ``experiment.holdout``); its propensity is the
  share (the probability logged with it).

Sendable decisions that were never confirmed sent, and holds the gate made, are neither (they
are counted in the warnings). Features are the lead-score features as they were at the
decision (:func:`optimizer.features.build.build_features` with ``as_of`` = the decision time,
the same code the lead score trains and serves on). The target is an outcome within
``window_days`` after the decision: a reply (``reply`` / ``inbound`` events that are not a
STOP, HELP or START) or a conversion (``conversion`` / ``purchase``). Only decisions whose
window closed before ``as_of`` count, and nothing at or after ``as_of`` is read.

Rows are weighted by the inverse of their propensity (normalised to mean 1), so that the
learners see arms of equal weight whatever the holdout share, and experiments with different
shares pool without one arm's share standing in for a feature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from optimizer.bandits.holdout import HOLDOUT_REASON, share_of
from optimizer.errors import InvalidInput
from optimizer.features.build import build_features
from optimizer.features.definitions import FEATURE_SOURCE
from optimizer.features.store import load_frames
from optimizer.store.holdout_log import (
    AssignedDecision,
    OutcomeEvent,
    list_experiments,
    load_assigned_decisions,
    load_outcome_events,
)
from optimizer.vocabulary import NOT_OUTCOME_INTENTS, outcome_types
from training.uplift_data import MIN_GROUP_ROWS, UpliftData

StoreTarget = Literal["reply", "conversion"]
STORE_TARGETS: tuple[StoreTarget, ...] = ("reply", "conversion")
DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 90


@dataclass(frozen=True)
class Unit:
    """One (experiment, lead) of the randomised sample."""

    experiment_id: int
    lead_id: int
    decided_at: dt.datetime
    treated: bool
    propensity: float
    probability: float | None = None  # the lead score the decision logged
    segment: str | None = None  # its hot / warm / cold band


@dataclass(frozen=True)
class UnitCounts:
    treated: int
    control: int
    open_window: int  # units whose outcome window had not closed by as_of (left out)
    not_sent: int  # sendable decisions never confirmed sent (left out, not a unit)


def assigned_units(
    decisions: Sequence[AssignedDecision],
    shares: dict[int, float],
    *,
    as_of: dt.datetime,
    window: dt.timedelta,
) -> tuple[list[Unit], UnitCounts]:
    """Each (experiment, lead)'s first decision that was sent or held out (pure).

    ``decisions`` oldest first; ``shares`` maps an experiment to its holdout share."""
    first: dict[tuple[int, int], AssignedDecision] = {}
    not_sent = 0
    for d in decisions:
        if not (d.held_out or d.sent):
            if d.action != "hold":
                not_sent += 1
            continue
        first.setdefault((d.experiment_id, d.lead_id), d)
    units: list[Unit] = []
    open_window = 0
    for (experiment_id, lead_id), d in first.items():
        if d.decided_at + window > as_of:
            open_window += 1
            continue
        share = shares[experiment_id]
        units.append(
            Unit(
                experiment_id=experiment_id,
                lead_id=lead_id,
                decided_at=d.decided_at,
                treated=not d.held_out,
                propensity=share if d.held_out else 1.0 - share,
                probability=d.probability,
                segment=d.segment,
            )
        )
    units.sort(key=lambda u: (u.decided_at, u.experiment_id, u.lead_id))
    treated = sum(u.treated for u in units)
    return units, UnitCounts(treated, len(units) - treated, open_window, not_sent)


def outcome_labels(
    units: Sequence[Unit],
    events: Sequence[OutcomeEvent],
    *,
    target: StoreTarget,
    window: dt.timedelta,
) -> np.ndarray:
    """1 when the unit's lead has an outcome of ``target`` in [decision, decision + window]."""
    kinds = set(outcome_types(target))
    by_lead: dict[int, list[dt.datetime]] = {}
    for e in events:
        if e.type in kinds and e.intent not in NOT_OUTCOME_INTENTS:
            by_lead.setdefault(e.lead_id, []).append(e.occurred_at)
    y = np.zeros(len(units), dtype=np.float64)
    for i, u in enumerate(units):
        end = u.decided_at + window
        if any(u.decided_at <= at <= end for at in by_lead.get(u.lead_id, ())):
            y[i] = 1.0
    return y


def _check_args(as_of: dt.datetime, window_days: int, target: str, min_per_arm: int) -> None:
    if as_of.tzinfo is None:
        raise InvalidInput(f"as_of {as_of.isoformat()} has no time zone (aware UTC expected)")
    if isinstance(window_days, bool) or not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise InvalidInput(
            f"--window-days {window_days!r} must be a whole number from 1 to {MAX_WINDOW_DAYS}"
        )
    if target not in STORE_TARGETS:
        raise InvalidInput(f"--target {target!r} is not one of {', '.join(STORE_TARGETS)}")
    if min_per_arm < 1:
        raise InvalidInput(f"min_per_arm {min_per_arm}: at least 1 expected")


def _holdout_experiments(
    session: Session, experiment_ids: Sequence[int] | None
) -> dict[int, float]:
    found = {e.experiment_id: e for e in list_experiments(session)}
    if experiment_ids:
        unknown = [i for i in experiment_ids if i not in found]
        if unknown:
            raise InvalidInput(f"--experiment {unknown[0]} does not exist in the store")
        without = [i for i in experiment_ids if share_of(found[i].policy_params) <= 0]
        if without:
            raise InvalidInput(
                f"--experiment {without[0]} ({found[without[0]].name!r}) has no holdout: its "
                "decisions are not a randomised sample"
            )
        chosen = [found[i] for i in dict.fromkeys(experiment_ids)]
    else:
        chosen = [e for e in found.values() if share_of(e.policy_params) > 0]
    if not chosen:
        raise InvalidInput(
            f"the store has no experiment with a holdout ({len(found)} experiments): create one "
            'with "holdout": true to learn uplift from the service\'s own traffic'
        )
    return {e.experiment_id: share_of(e.policy_params) for e in chosen}


def store_uplift_data(
    session: Session,
    *,
    as_of: dt.datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    target: StoreTarget = "reply",
    experiment_ids: Sequence[int] | None = None,
    min_per_arm: int = MIN_GROUP_ROWS,
) -> UpliftData:
    """The store's randomised holdout sample as uplift training data (see the module)."""
    _check_args(as_of, window_days, target, min_per_arm)
    as_of = as_of.astimezone(dt.UTC)
    window = dt.timedelta(days=window_days)
    shares = _holdout_experiments(session, experiment_ids)
    decisions = load_assigned_decisions(
        session, experiment_ids=list(shares), holdout_reason=HOLDOUT_REASON, before=as_of
    )
    units, counts = assigned_units(decisions, shares, as_of=as_of, window=window)
    if min(counts.treated, counts.control) < min_per_arm:
        raise InvalidInput(
            f"too little randomised data in experiment(s) {sorted(shares)} as of "
            f"{as_of.isoformat()}: {counts.treated} leads texted and {counts.control} held out "
            f"with a closed {window_days}-day window (at least {min_per_arm} of each needed; "
            f"{counts.open_window} more still inside their window)"
        )
    lead_ids = sorted({u.lead_id for u in units})
    events = load_outcome_events(
        session, lead_ids=lead_ids, types=outcome_types(target), before=as_of
    )
    y = outcome_labels(units, events, target=target, window=window)
    treatment = np.array([1 if u.treated else 0 for u in units], dtype=np.int64)
    if y.sum() == 0:
        raise InvalidInput(
            f"no {target} within {window_days} days after any of the {len(units)} decisions: "
            "nothing to learn"
        )
    if y.sum() == len(y):
        raise InvalidInput(f"every lead had a {target} within {window_days} days: nothing to learn")
    frames_events, leads = load_frames(session, lead_ids=lead_ids, before=as_of)
    requests = pd.DataFrame(
        {
            "lead_id": np.array([u.lead_id for u in units], dtype=np.int64),
            "as_of": pd.to_datetime([u.decided_at for u in units], utc=True),
        }
    )
    frame = build_features(frames_events, leads, requests).reset_index(drop=True)
    propensity = np.array([u.propensity for u in units], dtype=np.float64)
    weight = 1.0 / propensity
    weight = weight / weight.mean()
    warnings = [
        f"inverse-propensity weights: treated rows 1/(1 - share), held-out rows 1/share "
        f"(shares {', '.join(f'{i}: {s:g}' for i, s in sorted(shares.items()))})"
    ]
    if counts.not_sent:
        warnings.append(
            f"{counts.not_sent} sendable decisions never confirmed sent left out (treated means "
            "texted)"
        )
    if counts.open_window:
        warnings.append(
            f"{counts.open_window} leads whose {window_days}-day window had not closed by "
            f"{as_of.isoformat()} left out"
        )
    sha = hashlib.sha256()
    sha.update(np.array([u.lead_id for u in units], dtype=np.int64).tobytes())
    sha.update(np.array([u.experiment_id for u in units], dtype=np.int64).tobytes())
    sha.update(requests["as_of"].astype("int64").to_numpy().tobytes())
    sha.update(treatment.tobytes())
    sha.update(y.tobytes())
    experiments = ",".join(str(i) for i in sorted(shares))
    return UpliftData(
        frame=frame,
        y=y,
        treatment=treatment,
        name=f"store:holdout:{experiments}",
        source="store",
        digest=sha.hexdigest(),
        feature_source=FEATURE_SOURCE,
        target=f"{target}_within_{window_days}d",
        outcome="binary",
        treatment_column="holdout",
        control="held_out",
        treated="texted",
        warnings=tuple(warnings),
        propensity=propensity,
        weight=weight,
    )


@dataclass(frozen=True)
class HoldoutLog:
    """One experiment's randomised sample for off-policy evaluation of a targeting rule: the
    units (texted or held out, with the propensity of that and the decision's logged score) and
    each unit's outcome within the window."""

    experiment_id: int
    share: float
    units: tuple[Unit, ...]
    y: np.ndarray
    counts: UnitCounts
    target: StoreTarget
    window_days: int


def store_holdout_log(
    session: Session,
    *,
    experiment_id: int,
    as_of: dt.datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    target: StoreTarget = "reply",
) -> HoldoutLog:
    """The holdout sample of ``experiment_id`` as of ``as_of`` (the same units and labels as
    :func:`store_uplift_data`, without features). An experiment with no holdout, or no unit
    of either arm with a closed window, is refused naming the counts."""
    _check_args(as_of, window_days, target, 1)
    as_of = as_of.astimezone(dt.UTC)
    window = dt.timedelta(days=window_days)
    shares = _holdout_experiments(session, [experiment_id])
    decisions = load_assigned_decisions(
        session, experiment_ids=list(shares), holdout_reason=HOLDOUT_REASON, before=as_of
    )
    units, counts = assigned_units(decisions, shares, as_of=as_of, window=window)
    if min(counts.treated, counts.control) < 1:
        raise InvalidInput(
            f"experiment {experiment_id} as of {as_of.isoformat()}: {counts.treated} leads texted "
            f"and {counts.control} held out with a closed {window_days}-day window (at least one "
            f"of each needed; {counts.open_window} more still inside their window)"
        )
    events = load_outcome_events(
        session,
        lead_ids=sorted({u.lead_id for u in units}),
        types=outcome_types(target),
        before=as_of,
    )
    y = outcome_labels(units, events, target=target, window=window)
    return HoldoutLog(
        experiment_id=experiment_id,
        share=shares[experiment_id],
        units=tuple(units),
        y=y,
        counts=counts,
        target=target,
        window_days=window_days,
    )
