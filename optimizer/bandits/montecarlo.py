"""Monte-Carlo arm probabilities for Thompson sampling, redrawn only where the state changed.

``draws`` joint posterior draws per arm are kept; when an arm's statistics change, only its
column is redrawn (at the next choice, with that choice's generator). The probability that
each eligible arm has the highest draw is the share of the ``draws`` rows it wins.

The policy then *chooses by sampling from these probabilities*, so the logged propensity is
exactly the probability with which the arm was chosen (and never 0 for a chosen arm); the
probabilities themselves are a Monte-Carlo estimate of Thompson sampling's, with ``draws``
draws.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MAX_CACHED_SETS = 64

DrawColumns = Callable[[np.random.Generator, np.ndarray], np.ndarray]


class MonteCarloArms:
    def __init__(self, n_arms: int, draws: int) -> None:
        self.draws = draws
        self.samples = np.empty((draws, n_arms))
        self.stale = np.ones(n_arms, dtype=bool)
        self._probabilities: dict[tuple[int, ...], np.ndarray] = {}

    def invalidate(self, arm: int) -> None:
        self.stale[arm] = True
        self._probabilities.clear()

    def probabilities(
        self, rng: np.random.Generator, idx: np.ndarray, draw_columns: DrawColumns
    ) -> np.ndarray:
        """P(each arm of ``idx`` has the highest posterior draw), over ``draws`` draws."""
        key = tuple(idx.tolist())
        cached = self._probabilities.get(key)
        if cached is not None:
            return cached
        stale = idx[self.stale[idx]]
        if stale.size:
            self.samples[:, stale] = draw_columns(rng, stale)
            self.stale[stale] = False
        columns = self.samples if idx.size == self.samples.shape[1] else self.samples[:, idx]
        winners = columns.argmax(axis=1)
        probs = np.bincount(winners, minlength=idx.size) / self.draws
        if len(self._probabilities) >= MAX_CACHED_SETS:
            self._probabilities.clear()
        self._probabilities[key] = probs
        return probs
