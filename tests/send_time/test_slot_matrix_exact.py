"""The persona projection and the hour smoothing give what their plain numpy form gives, bit
for bit (they are written with preallocated buffers and gathers for the one-lead path)."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.models.send_time_features import KERNEL, WIDE
from optimizer.models.slot_matrix import _smooth, project


def plain_project(counts: np.ndarray, components: np.ndarray, iterations: int = 60) -> np.ndarray:
    n, k = counts.shape[0], components.shape[0]
    weights = np.full((n, k), 1.0 / k)
    for _ in range(iterations):
        rate = weights @ components + 1e-12
        weights *= (counts / rate) @ components.T + 0.5
        weights /= weights.sum(axis=1, keepdims=True)
    return weights


def plain_smooth(counts: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    half = len(kernel) // 2
    return sum(w * np.roll(counts, k - half, axis=1) for k, w in enumerate(kernel))  # type: ignore[return-value]


@pytest.mark.parametrize("leads", [1, 2, 9, 500])
def test_project_and_smooth_equal_their_plain_form_bit_for_bit(leads: int) -> None:
    rng = np.random.default_rng(leads)
    components = rng.dirichlet(np.ones(48), size=6)
    for _ in range(5):
        counts = rng.poisson(rng.uniform(0.1, 3.0), size=(leads, 48)) * (
            rng.random((leads, 48)) < 0.3
        )
        counts = counts.astype(float)
        got, want = project(counts, components), plain_project(counts, components)
        assert got.tobytes() == want.tobytes()
        for kernel in (KERNEL, WIDE):
            assert _smooth(counts[:, :24], kernel).tobytes() == (
                plain_smooth(counts[:, :24], kernel).tobytes()
            )
