"""The opt-out guardrail: pause an arm whose opt-out rate is clearly worse than the best arm's.

Test: one-sided two-proportion z-test (pooled variance) of each active arm against the active
arm with the lowest opt-out rate. An arm is paused when all three hold:

* both arms have at least ``min_sends`` sends (default 200);
* p < ``alpha`` (default 0.01, i.e. z > 2.33);
* its rate exceeds the best arm's by at least ``min_difference`` (default 0.5 points).

The best arm is never paused, so an experiment always keeps at least one active arm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import stats as sps

from optimizer.errors import InvalidInput


@dataclass(frozen=True)
class GuardrailConfig:
    alpha: float = 0.01
    min_difference: float = 0.005
    min_sends: int = 200

    @classmethod
    def from_params(cls, params: Mapping[str, object] | None) -> GuardrailConfig:
        params = dict(params or {})
        unknown = sorted(set(params) - {"alpha", "min_difference", "min_sends"})
        if unknown:
            raise InvalidInput(
                f"guardrail parameter(s) {', '.join(unknown)} unknown "
                "(expected alpha, min_difference, min_sends)",
                field="guardrail",
            )
        config = cls(
            alpha=float(params.get("alpha", cls.alpha)),  # type: ignore[arg-type]
            min_difference=float(params.get("min_difference", cls.min_difference)),  # type: ignore[arg-type]
            min_sends=int(params.get("min_sends", cls.min_sends)),  # type: ignore[call-overload]
        )
        if not 0 < config.alpha < 1:
            raise InvalidInput(f"guardrail alpha {config.alpha!r}: must be in (0, 1)")
        if config.min_difference < 0 or config.min_sends < 1:
            raise InvalidInput(
                f"guardrail min_difference {config.min_difference!r} must be >= 0 and "
                f"min_sends {config.min_sends!r} >= 1"
            )
        return config


@dataclass(frozen=True)
class GuardrailFlag:
    arm: int
    rate: float
    best_arm: int
    best_rate: float
    p_value: float
    reason: str


def opt_out_guardrail(
    names: Sequence[str],
    sends: Sequence[int],
    opt_outs: Sequence[int],
    active: Sequence[bool],
    config: GuardrailConfig = GuardrailConfig(),
) -> tuple[GuardrailFlag, ...]:
    """Arms to pause, each with the reason (test, threshold, figures) in one sentence."""
    candidates = [i for i in range(len(names)) if active[i] and sends[i] >= config.min_sends]
    if len(candidates) < 2:
        return ()
    rates = {i: opt_outs[i] / sends[i] for i in candidates}
    best = min(candidates, key=lambda i: (rates[i], -sends[i]))
    flags = []
    for i in candidates:
        if i == best or rates[i] - rates[best] < config.min_difference:
            continue
        pooled = (opt_outs[i] + opt_outs[best]) / (sends[i] + sends[best])
        se = math.sqrt(pooled * (1 - pooled) * (1 / sends[i] + 1 / sends[best]))
        if se == 0:
            continue
        z = (rates[i] - rates[best]) / se
        p_value = float(sps.norm.sf(z))
        if p_value < config.alpha:
            flags.append(
                GuardrailFlag(
                    i,
                    rates[i],
                    best,
                    rates[best],
                    p_value,
                    f"opt-out rate {rates[i]:.2%} ({opt_outs[i]}/{sends[i]}) vs {rates[best]:.2%}"
                    f" on variant {names[best]!r}: one-sided two-proportion z-test p = "
                    f"{p_value:.2g} < {config.alpha} and difference "
                    f"{(rates[i] - rates[best]) * 100:.2f} points >= "
                    f"{config.min_difference * 100:.2f}",
                )
            )
    return tuple(flags)
