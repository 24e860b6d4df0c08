"""Export and import an experiment's state as versioned JSON (never pickle).

The state is the experiment's definition plus each variant's sufficient statistics; the
decision log stays where it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from optimizer.bandits.experiment_store import create_experiment, load_arms, load_experiment
from optimizer.errors import InvalidInput
from optimizer.store.db import Session
from optimizer.store.experiments_repo import set_arm_state
from optimizer.store.models import Experiment

STATE_FORMAT = "optimizer.experiment_state"
STATE_VERSION = 1
STAT_FIELDS = (
    "sends",
    "successes",
    "revenue_sum",
    "revenue_sum_sq",
    "opt_outs",
    "propensity_inv_sum",
)


def export_state(session: Session, *, experiment_id: int) -> dict[str, Any]:
    experiment = load_experiment(session, experiment_id)
    arms = load_arms(session, experiment_id)
    control = next((v.name for v, _ in arms if v.id == experiment.control_variant_id), None)
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "experiment": {
            "name": experiment.name,
            "metric": experiment.metric,
            "policy": experiment.policy,
            "policy_params": experiment.policy_params or {},
            "status": experiment.status,
            "control": control,
            "attribution_hours": experiment.attribution_hours,
            "seed": experiment.seed,
        },
        "variants": [
            {
                "name": variant.name,
                "template": variant.template,
                "weight": variant.weight,
                "paused": variant.paused,
                "pause_reason": variant.pause_reason,
                "stats": {name: getattr(stats, name) for name in STAT_FIELDS},
            }
            for variant, stats in arms
        ],
    }


def _check_stats(name: str, stats: Mapping[str, Any]) -> dict[str, float]:
    try:
        values = {key: float(stats[key]) for key in STAT_FIELDS}
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"variant {name!r}: stats malformed ({exc!r})", field="stats") from exc
    negative = [key for key, value in values.items() if value < 0 and key != "revenue_sum"]
    if negative:
        raise InvalidInput(f"variant {name!r}: {', '.join(negative)} must be >= 0", field="stats")
    if values["successes"] > values["sends"]:
        raise InvalidInput(
            f"variant {name!r}: successes {values['successes']:g} exceed sends {values['sends']:g}",
            field="stats",
        )
    return values


def import_state(
    session: Session, *, state: Mapping[str, Any], now: dt.datetime, name: str | None = None
) -> Experiment:
    """Create a new experiment from an exported state (optionally under another name)."""
    if state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
        raise InvalidInput(
            f"state format {state.get('format')!r} version {state.get('version')!r} is not "
            f"supported (expected {STATE_FORMAT!r} version {STATE_VERSION})",
            field="version",
        )
    try:
        spec = state["experiment"]
        variants = list(state["variants"])
        definitions = [(str(v["name"]), str(v["template"])) for v in variants]
    except (KeyError, TypeError) as exc:
        raise InvalidInput(f"experiment state malformed ({exc!r})", field="state") from exc
    experiment = create_experiment(
        session,
        name=name or spec["name"],
        metric=spec["metric"],
        policy=spec["policy"],
        variants=definitions,
        control=spec.get("control"),
        params=spec.get("policy_params") or {},
        attribution_hours=int(spec["attribution_hours"]),
        seed=int(spec.get("seed", 0)),
        now=now,
    )
    experiment.status = str(spec.get("status", "running"))
    for (variant, _), data in zip(load_arms(session, experiment.id), variants, strict=True):
        values = _check_stats(variant.name, data.get("stats", {}))
        set_arm_state(
            session,
            variant_id=variant.id,
            stats=values,
            weight=data.get("weight"),
            paused=bool(data.get("paused", False)),
            pause_reason=data.get("pause_reason"),
            now=now,
        )
    session.flush()
    return experiment
