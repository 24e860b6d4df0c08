"""How many sends per arm a classic two-proportion test needs.

``n = (z_{1-α/2} √(2 p̄ q̄) + z_{1-β} √(p₁q₁ + p₂q₂))² / (p₂ − p₁)²`` per arm, with α split
(Bonferroni) over the ``arms − 1`` comparisons against the control.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from optimizer.errors import InvalidInput


@dataclass(frozen=True)
class SampleSize:
    per_arm: int
    total: int
    baseline: float
    target: float
    power: float
    alpha: float
    arms: int


def sample_size_per_arm(
    baseline: float,
    minimum_detectable_effect: float,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    relative: bool = False,
    arms: int = 2,
) -> SampleSize:
    """Sends per arm to detect ``baseline → baseline + mde`` (or ``× (1 + mde)``)."""
    if not 0.0 < baseline < 1.0:
        raise InvalidInput(f"baseline rate {baseline!r}: must be in (0, 1)", field="baseline")
    if not minimum_detectable_effect > 0:
        raise InvalidInput(
            f"minimum detectable effect {minimum_detectable_effect!r}: must be > 0",
            field="minimum_detectable_effect",
        )
    if not 0.0 < power < 1.0:
        raise InvalidInput(f"power {power!r}: must be in (0, 1)", field="power")
    if not 0.0 < alpha < 1.0:
        raise InvalidInput(f"alpha {alpha!r}: must be in (0, 1)", field="alpha")
    if arms < 2:
        raise InvalidInput(f"arms {arms!r}: at least 2 expected", field="arms")
    target = (
        baseline * (1.0 + minimum_detectable_effect)
        if relative
        else baseline + minimum_detectable_effect
    )
    if not target < 1.0:
        raise InvalidInput(
            f"baseline {baseline} plus effect {minimum_detectable_effect} gives rate {target:.4g}"
            " (must stay below 1)",
            field="minimum_detectable_effect",
        )
    z_alpha = float(sps.norm.ppf(1 - alpha / (2 * (arms - 1))))
    z_power = float(sps.norm.ppf(power))
    pooled = (baseline + target) / 2
    numerator = (
        z_alpha * math.sqrt(2 * pooled * (1 - pooled))
        + z_power * math.sqrt(baseline * (1 - baseline) + target * (1 - target))
    ) ** 2
    per_arm = math.ceil(numerator / (target - baseline) ** 2)
    return SampleSize(per_arm, per_arm * arms, baseline, target, power, alpha, arms)
