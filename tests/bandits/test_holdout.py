"""The holdout's assignment (a fixed hash, the asked share) and the difference interval."""

from __future__ import annotations

import math

import pytest

from optimizer.bandits.holdout import (
    DEFAULT_HOLDOUT_SHARE,
    assignment_draw,
    holdout_share,
    in_holdout,
)
from optimizer.errors import InvalidInput
from optimizer.stats.intervals import newcombe_difference


@pytest.mark.parametrize(
    ("value", "share"),
    [(True, DEFAULT_HOLDOUT_SHARE), (False, 0.0), (None, 0.0), (0, 0.0), (0.2, 0.2), (0.5, 0.5)],
)
def test_holdout_share_reads_true_false_and_shares(value: object, share: float) -> None:
    assert holdout_share(value) == share


@pytest.mark.parametrize("value", [0.51, -0.01, math.nan, math.inf, "0.1", [0.1]])
def test_holdout_share_refuses_the_rest_naming_the_value(value: object) -> None:
    with pytest.raises(InvalidInput, match="holdout"):
        holdout_share(value)


def test_assignment_is_fixed_uniform_and_independent_across_experiments() -> None:
    draws = [assignment_draw(experiment_id=1, seed=0, lead_id=i) for i in range(20_000)]
    assert draws == [assignment_draw(experiment_id=1, seed=0, lead_id=i) for i in range(20_000)]
    assert all(0.0 <= d < 1.0 for d in draws)
    held = [in_holdout(experiment_id=1, seed=0, lead_id=i, share=0.05) for i in range(20_000)]
    # 5% of 20,000 = 1,000; binomial sd about 31.
    assert 880 <= sum(held) <= 1120
    other = [in_holdout(experiment_id=2, seed=0, lead_id=i, share=0.05) for i in range(20_000)]
    reseeded = [in_holdout(experiment_id=1, seed=9, lead_id=i, share=0.05) for i in range(20_000)]
    both = sum(a and b for a, b in zip(held, other, strict=True))
    assert both < 100  # independent: about 50 expected, not 1,000
    assert sum(a and b for a, b in zip(held, reseeded, strict=True)) < 100
    assert not any(in_holdout(experiment_id=1, seed=0, lead_id=i, share=0.0) for i in range(1000))


def test_newcombe_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, table II, example (a): 56/70 - 48/80,
    # method 10: 0.0524 to 0.3339.
    low, high = newcombe_difference(56, 70, 48, 80)
    assert low == pytest.approx(0.0524, abs=5e-4)
    assert high == pytest.approx(0.3339, abs=5e-4)
    # A small group with no outcome still gets a wide interval, not Wald's zero-width one.
    low, high = newcombe_difference(10, 40, 0, 5)
    assert low < 0.0 < 0.25 < high
    assert newcombe_difference(1, 10, 0, 0) == (-1.0, 1.0)
