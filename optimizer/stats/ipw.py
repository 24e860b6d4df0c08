"""Effects estimated from bandit-allocated traffic with inverse-propensity weights.

Each logged send carries the probability the policy had of choosing its arm. Per arm the
self-normalised (Hájek) estimate ``Σ r/p / Σ 1/p`` removes the bias of adaptive allocation;
its standard error is the linearised ``√Σ((r − v)/p)² / Σ 1/p``. The effect of an arm over
the control is the difference of the two estimates (variances added).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.errors import InvalidInput
from optimizer.stats.intervals import z_value


@dataclass(frozen=True)
class IpwArm:
    name: str
    sends: int
    value: float | None
    std_error: float | None
    effect: float | None  # versus the control
    effect_ci_low: float | None
    effect_ci_high: float | None


def ipw_estimates(
    names: Sequence[str],
    arm_index: np.ndarray,
    propensity: np.ndarray,
    reward: np.ndarray,
    *,
    control: int = 0,
    confidence: float = 0.95,
) -> tuple[IpwArm, ...]:
    """Per-arm IPW values and effects against arm ``control`` from logged sends."""
    arm_index = np.asarray(arm_index, dtype=np.int64)
    propensity = np.asarray(propensity, dtype=float)
    reward = np.asarray(reward, dtype=float)
    if not (arm_index.shape == propensity.shape == reward.shape):
        raise InvalidInput("arm, propensity and reward arrays must have the same length")
    if propensity.size and not ((propensity > 0) & (propensity <= 1)).all():
        bad = propensity[~((propensity > 0) & (propensity <= 1))][0]
        raise InvalidInput(f"propensity {bad!r}: must be in (0, 1]", field="propensity")
    values: list[tuple[float | None, float | None, int]] = []
    for i in range(len(names)):
        mask = arm_index == i
        weights = 1.0 / propensity[mask]
        if weights.size == 0:
            values.append((None, None, 0))
            continue
        value = float((weights * reward[mask]).sum() / weights.sum())
        error = float(math.sqrt(((weights * (reward[mask] - value)) ** 2).sum()) / weights.sum())
        values.append((value, error, int(weights.size)))
    z = z_value(confidence)
    control_value, control_error, _ = values[control]
    out = []
    for name, (arm_value, arm_error, sends) in zip(names, values, strict=True):
        effect = low = high = None
        if arm_value is not None and control_value is not None and arm_error is not None:
            effect = arm_value - control_value
            spread = z * math.sqrt(arm_error**2 + (control_error or 0.0) ** 2)
            low, high = effect - spread, effect + spread
        out.append(IpwArm(name, sends, arm_value, arm_error, effect, low, high))
    return tuple(out)
