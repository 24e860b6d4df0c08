"""Thompson sampling with a Beta–Bernoulli model (reply, click, conversion).

Each arm's success rate has a Beta(a, b) posterior, ``a = alpha + successes`` and
``b = beta + failures``. The probability that Thompson sampling picks each arm (the chance its
posterior draw is highest) is estimated from ``draws`` joint posterior draws (see
``montecarlo.py``), and the arm is drawn from those probabilities, so the propensity logged is
exactly the probability the arm was chosen with.

Every draw is exact. A Beta(a, b) draw is ``G_a / (G_a + G_b)`` with independent
``G_a ~ Gamma(a)`` and ``G_b ~ Gamma(b)``; the policy keeps the ``draws`` Gamma pairs of each
arm and, when the arm's statistics grow by ``(da, db)``, adds independent ``Gamma(da)`` and
``Gamma(db)`` draws to them (a sum of independent Gammas with one scale is a Gamma with the
summed shapes). After a 0/1 reward that is one standard exponential per draw instead of a
fresh Beta sample — the reason an update costs little. The draws of one arm at successive
states are therefore correlated (each is exactly Beta-distributed for its state, and arms stay
independent of each other); statistics that shrink (a state loaded from the database or a
file) are drawn afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from optimizer.bandits.base import BasePolicy, ParamValue, pick_from
from optimizer.bandits.montecarlo import MonteCarloArms
from optimizer.errors import InvalidInput

# Shape changes below this are rounding in the float sums, not statistics.
_SHAPE_EPSILON = 1e-9


def _add_gamma(rng: np.random.Generator, values: np.ndarray, shape: float) -> None:
    """``values += Gamma(shape)`` draws in place (``shape`` >= 0)."""
    if shape <= _SHAPE_EPSILON:
        return
    if shape == 1.0:
        values += rng.standard_exponential(values.size)
    else:
        values += rng.standard_gamma(shape, values.size)


@dataclass
class ThompsonBernoulli(BasePolicy):
    name: ClassVar[str] = "thompson"

    alpha: float = 1.0
    beta: float = 1.0
    draws: int = 1000

    def _check_params(self) -> None:
        if not (self.alpha > 0 and self.beta > 0):
            raise InvalidInput(
                f"prior alpha={self.alpha!r}, beta={self.beta!r}: both must be > 0",
                field="alpha",
            )
        if self.draws < 1:
            raise InvalidInput(f"draws {self.draws!r}: must be >= 1", field="draws")
        self._monte_carlo = MonteCarloArms(self.n_arms, self.draws)
        # Per arm: the Gamma pairs behind its Beta draws and the shapes they stand for
        # (NaN: never drawn).
        self._gamma_a = np.empty((self.n_arms, self.draws))
        self._gamma_b = np.empty((self.n_arms, self.draws))
        self._drawn_a = np.full(self.n_arms, np.nan)
        self._drawn_b = np.full(self.n_arms, np.nan)

    def _changed(self, arm: int) -> None:
        self._monte_carlo.invalidate(arm)

    def params(self) -> dict[str, ParamValue]:
        return {**super().params(), "alpha": self.alpha, "beta": self.beta, "draws": self.draws}

    def _check_reward(self, reward: float) -> float:
        value = float(reward)
        if not 0.0 <= value <= 1.0:
            raise InvalidInput(
                f"reward {reward!r}: a Beta–Bernoulli arm takes rewards in [0, 1]",
                field="reward",
            )
        return value

    def shapes(self, arm: int) -> tuple[float, float]:
        """The Beta posterior ``(a, b)`` of ``arm``."""
        successes = float(self.sums[arm])
        return self.alpha + successes, self.beta + float(self.pulls[arm]) - successes

    def posterior_draws(self, rng: np.random.Generator, idx: np.ndarray) -> np.ndarray:
        """A (len(idx), draws) matrix of exact posterior draws of each arm's success rate."""
        out = np.empty((idx.size, self.draws))
        for row, arm in enumerate(idx.tolist()):
            a, b = self.shapes(arm)
            grow_a = a - self._drawn_a[arm]
            grow_b = b - self._drawn_b[arm]
            gamma_a, gamma_b = self._gamma_a[arm], self._gamma_b[arm]
            if grow_a >= -_SHAPE_EPSILON and grow_b >= -_SHAPE_EPSILON:  # False for NaN
                _add_gamma(rng, gamma_a, grow_a)
                _add_gamma(rng, gamma_b, grow_b)
            else:
                gamma_a[:] = rng.standard_gamma(a, self.draws)
                gamma_b[:] = rng.standard_gamma(b, self.draws)
            self._drawn_a[arm], self._drawn_b[arm] = a, b
            np.divide(gamma_a, gamma_a + gamma_b, out=out[row])
        return out

    def _pick(self, rng: np.random.Generator, idx: np.ndarray) -> tuple[int, np.ndarray]:
        probs = self._monte_carlo.probabilities(rng, idx, self.posterior_draws)
        return pick_from(rng, probs), probs
