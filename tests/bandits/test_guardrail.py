"""The opt-out guardrail: a stated test and thresholds, the best arm never paused."""

from __future__ import annotations

import pytest

from optimizer.bandits.guardrail import GuardrailConfig, opt_out_guardrail
from optimizer.errors import InvalidInput

NAMES = ("A", "B", "C")


def test_flags_only_a_clearly_worse_arm() -> None:
    flags = opt_out_guardrail(NAMES, [1000, 1000, 1000], [5, 25, 8], [True, True, True])
    assert [f.arm for f in flags] == [1]
    assert flags[0].best_arm == 0 and flags[0].p_value < 0.01
    assert "one-sided two-proportion z-test" in flags[0].reason and "'A'" in flags[0].reason


@pytest.mark.parametrize(
    ("sends", "opt_outs", "active", "config"),
    [
        ([1000, 1000, 1000], [5, 12, 8], [True] * 3, GuardrailConfig()),  # not significant
        ([150, 150, 150], [0, 10, 1], [True] * 3, GuardrailConfig()),  # below min_sends
        (
            [100_000, 100_000, 100_000],
            [100, 400, 100],
            [True] * 3,
            GuardrailConfig(min_difference=0.005),
        ),  # significant but only 0.3 points
        ([1000, 1000, 1000], [5, 25, 8], [True, False, False], GuardrailConfig()),  # paused
    ],
)
def test_does_not_flag(
    sends: list[int], opt_outs: list[int], active: list[bool], config: GuardrailConfig
) -> None:
    assert opt_out_guardrail(NAMES, sends, opt_outs, active, config) == ()


def test_config_validation() -> None:
    assert GuardrailConfig.from_params({"alpha": 0.05}).alpha == 0.05
    with pytest.raises(InvalidInput, match="guardrail alpha 2.0"):
        GuardrailConfig.from_params({"alpha": 2})
    with pytest.raises(InvalidInput, match="unknown"):
        GuardrailConfig.from_params({"z": 2})
