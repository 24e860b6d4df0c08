"""An experiment's randomised holdout: a share of its leads who get no text, so that the texts'
incremental effect can be measured (texted against held out) and uplift learned from our own
traffic.

Assignment is per lead and per experiment, drawn once from the experiment's id and seed and the
lead's id (a hash, not the clock): the same lead is in or out on every decision, on every worker,
after every restart, with no stored state. Its probability (the share) is logged with each
held-out decision as the propensity of that ``hold``.

Stored in the experiment's ``policy_params`` under ``"holdout"`` (like ``"guardrail"``, not a
parameter of the variant policy). ``true`` asks for the default share.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from optimizer.errors import InvalidInput

HOLDOUT_PARAM = "holdout"
DEFAULT_HOLDOUT_SHARE = 0.05
MAX_HOLDOUT_SHARE = 0.5
HOLDOUT_REASON = "experiment.holdout"


def holdout_share(value: Any) -> float:
    """The share a ``holdout`` parameter asks for: ``true`` → the default (5 %), ``false`` or
    absent → 0, a number in [0, 0.5] → itself; anything else is refused naming the value."""
    if value is None or value is False:
        return 0.0
    if value is True:
        return DEFAULT_HOLDOUT_SHARE
    if isinstance(value, int | float) and not isinstance(value, bool):
        share = float(value)
        if math.isfinite(share) and 0.0 <= share <= MAX_HOLDOUT_SHARE:
            return share
    raise InvalidInput(
        f"holdout {value!r}: expected true (a {DEFAULT_HOLDOUT_SHARE:.0%} holdout), false, or a "
        f"share from 0 to {MAX_HOLDOUT_SHARE}",
        field="holdout",
    )


def share_of(policy_params: Mapping[str, Any] | None) -> float:
    """The holdout share stored with an experiment (0 when it has none)."""
    return holdout_share((policy_params or {}).get(HOLDOUT_PARAM))


def assignment_draw(*, experiment_id: int, seed: int, lead_id: int) -> float:
    """A uniform draw in [0, 1) fixed by (experiment, seed, lead): the lead's place in the
    experiment's holdout order."""
    digest = hashlib.sha256(f"holdout:{experiment_id}:{seed}:{lead_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def in_holdout(*, experiment_id: int, seed: int, lead_id: int, share: float) -> bool:
    """Whether the lead belongs to the experiment's held-out group (probability ``share``)."""
    if share <= 0.0:
        return False
    return assignment_draw(experiment_id=experiment_id, seed=seed, lead_id=lead_id) < share
