"""Uplift metrics: scikit-uplift's values, hand-computed cases, the bootstrap intervals."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from optimizer.models.uplift_metrics import (
    qini_auc_score,
    qini_curve,
    uplift_at_k,
    uplift_auc_score,
    uplift_scores,
)

sklift_metrics = pytest.importorskip("sklift.metrics")


def _case(seed: int, n: int, *, ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    score = rng.normal(size=n)
    if ties:
        score = np.round(score, 1)
    y = (rng.random(n) < 0.2 + 0.15 * t * (score > 0) - 0.05 * t * (score < -1)).astype(int)
    return y, score, t


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_the_same_values_as_scikit_uplift(seed, ties):
    y, score, t = _case(seed, 300 + 97 * seed, ties=ties)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert qini_auc_score(y, score, t) == pytest.approx(
            sklift_metrics.qini_auc_score(y, score, t), abs=1e-12
        )
        assert uplift_auc_score(y, score, t) == pytest.approx(
            sklift_metrics.uplift_auc_score(y, score, t), abs=1e-12
        )
        for k in (0.1, 0.2, 0.3):
            assert uplift_at_k(y, score, t, k) == pytest.approx(
                sklift_metrics.uplift_at_k(y, score, t, strategy="overall", k=k), abs=1e-12
            )
        x, q = qini_curve(y, score, t)
        x_ref, q_ref = sklift_metrics.qini_curve(y, score, t)
        np.testing.assert_allclose(x, x_ref)
        np.testing.assert_allclose(q, q_ref)


# Four rows by hand: scores 4..1, treated/control alternate, responders are the first treated
# row and the last control row. Qini curve (0,0) (1,1) (2,1) (3,1) (4,0): area 3; the perfect
# ranking (score y·t − y·(1−t) = 1, 0, 0, −1) gives (0,0) (1,1) (3,1) (4,0): area 3; the
# random line ends at 0, so the Qini coefficient is 3 / 3 = 1.
Y = np.array([1, 0, 0, 1])
T = np.array([1, 0, 1, 0])


def test_hand_computed_best_order():
    score = np.array([4.0, 3.0, 2.0, 1.0])
    x, q = qini_curve(Y, score, T)
    assert list(x) == [0, 1, 2, 3, 4] and list(q) == [0, 1, 1, 1, 0]
    assert qini_auc_score(Y, score, T) == pytest.approx(1.0)
    assert uplift_at_k(Y, score, T, 0.5) == pytest.approx(1.0)  # top 2: treated 1, control 0


def test_hand_computed_worst_order():
    # Reversed: (0,0) (1,0) (2,−1) (3,−0.5) (4,0): area −1.5, so Qini = −1.5 / 3.
    score = np.array([1.0, 2.0, 3.0, 4.0])
    x, q = qini_curve(Y, score, T)
    assert list(q) == [0, 0, -1, -0.5, 0]
    assert qini_auc_score(Y, score, T) == pytest.approx(-0.5)
    assert uplift_at_k(Y, score, T, 0.5) == pytest.approx(-1.0)


def test_a_continuous_outcome_scales_uplift_at_k_but_not_the_coefficients():
    y, score, t = _case(11, 800, ties=False)
    revenue = y * 37.5
    assert qini_auc_score(revenue, score, t) == pytest.approx(qini_auc_score(y, score, t))
    assert uplift_at_k(revenue, score, t, 0.3) == pytest.approx(
        37.5 * uplift_at_k(y, score, t, 0.3)
    )
    perfect = revenue * t - revenue * (1 - t)
    assert qini_auc_score(revenue, perfect, t) == pytest.approx(1.0)


def test_uplift_at_k_is_nan_without_both_groups_at_the_top():
    t = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    score = np.arange(10.0)[::-1]
    assert math.isnan(uplift_at_k(np.ones(10), score, t, 0.2))
    with pytest.raises(ValueError, match="k=1.5"):
        uplift_at_k(np.ones(10), score, t, 1.5)


def test_bootstrap_is_seeded_and_brackets_a_real_effect():
    rng = np.random.default_rng(5)
    n = 4000
    t = rng.integers(0, 2, n)
    effect = rng.uniform(-0.1, 0.3, n)
    y = (rng.random(n) < 0.2 + t * effect).astype(float)
    first = uplift_scores(y, effect, t, seed=3, resamples=100)
    again = uplift_scores(y, effect, t, seed=3, resamples=100)
    other = uplift_scores(y, effect, t, seed=4, resamples=100)
    assert first == again
    assert first.qini.low != other.qini.low
    assert first.qini.value == pytest.approx(qini_auc_score(y, effect, t))
    for name in ("qini", "auuc", "uplift_at_10", "uplift_at_20", "uplift_at_30"):
        est = getattr(first, name)
        assert est.low <= est.high
        assert est.low > 0, name  # the true effect ranks well: the interval excludes 0
    noise = uplift_scores(y, rng.random(n), t, seed=3, resamples=100)
    assert noise.qini.low < 0 < noise.qini.high
    keys = first.as_dict()
    assert {"qini", "qini_low", "qini_high", "uplift_at_30_high"} <= set(keys)
