"""Monte-Carlo arm probabilities for Thompson sampling, redrawn only where the state changed.

``draws`` joint posterior draws per arm are kept (one row of ``samples`` per arm); when an
arm's statistics change, only its row is redrawn (at the next choice, with that choice's
generator). The probability that each eligible arm has the highest draw is the share of the
``draws`` columns it wins.

The policy then *chooses by sampling from these probabilities*, so the logged propensity is
exactly the probability with which the arm was chosen (and never 0 for a chosen arm); the
probabilities themselves are a Monte-Carlo estimate of Thompson sampling's, with ``draws``
draws.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MAX_CACHED_SETS = 64

# (generator, arm indices) -> a (len(indices), draws) matrix of posterior draws.
DrawRows = Callable[[np.random.Generator, np.ndarray], np.ndarray]


def win_shares(rows: np.ndarray) -> np.ndarray:
    """Share of columns in which each row holds the maximum (ties go to the first row, as
    ``argmax`` would give them)."""
    top = rows.max(axis=0)
    wins = np.count_nonzero(rows == top, axis=1)
    draws = rows.shape[1]
    if int(wins.sum()) != draws:  # a tie in some column: count each column once
        wins = np.bincount(rows.argmax(axis=0), minlength=rows.shape[0])
    return wins / draws


class MonteCarloArms:
    def __init__(self, n_arms: int, draws: int) -> None:
        self.draws = draws
        self.samples = np.empty((n_arms, draws))
        self.stale = np.ones(n_arms, dtype=bool)
        self._probabilities: dict[tuple[int, ...], np.ndarray] = {}

    def invalidate(self, arm: int) -> None:
        self.stale[arm] = True
        self._probabilities.clear()

    def probabilities(
        self, rng: np.random.Generator, idx: np.ndarray, draw_rows: DrawRows
    ) -> np.ndarray:
        """P(each arm of ``idx`` has the highest posterior draw), over ``draws`` draws."""
        key = tuple(idx.tolist())
        cached = self._probabilities.get(key)
        if cached is not None:
            return cached
        stale = idx[self.stale[idx]]
        if stale.size:
            self.samples[stale] = draw_rows(rng, stale)
            self.stale[stale] = False
        rows = self.samples if idx.size == self.samples.shape[0] else self.samples[idx]
        probs = win_shares(rows)
        if len(self._probabilities) >= MAX_CACHED_SETS:
            self._probabilities.clear()
        self._probabilities[key] = probs
        return probs
