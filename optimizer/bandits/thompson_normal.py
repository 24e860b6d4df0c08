"""Thompson sampling with a Normal model for a continuous reward (revenue per send).

Normal–Gamma prior on each arm's mean and precision; the posterior of the mean is a Student t
with ``2 * alpha_n`` degrees of freedom, centred on ``mu_n`` with scale
``sqrt(beta_n / (alpha_n * kappa_n))``. Choice and Monte-Carlo propensity as in ``thompson``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from optimizer.bandits.base import BasePolicy, ParamValue, pick_from
from optimizer.bandits.montecarlo import MonteCarloArms
from optimizer.errors import InvalidInput


@dataclass
class ThompsonNormal(BasePolicy):
    name: ClassVar[str] = "thompson_normal"

    prior_mean: float = 0.0
    prior_strength: float = 1.0  # kappa0: pseudo-observations behind prior_mean
    prior_shape: float = 1.0  # alpha0
    prior_rate: float = 1.0  # beta0 (in squared reward units)
    draws: int = 1000

    def _check_params(self) -> None:
        for key in ("prior_strength", "prior_shape", "prior_rate"):
            value = getattr(self, key)
            if not value > 0:
                raise InvalidInput(f"{key} {value!r}: must be > 0", field=key)
        if self.draws < 1:
            raise InvalidInput(f"draws {self.draws!r}: must be >= 1", field="draws")
        self._monte_carlo = MonteCarloArms(self.n_arms, self.draws)

    def _changed(self, arm: int) -> None:
        self._monte_carlo.invalidate(arm)

    def params(self) -> dict[str, ParamValue]:
        return {
            **super().params(),
            "prior_mean": self.prior_mean,
            "prior_strength": self.prior_strength,
            "prior_shape": self.prior_shape,
            "prior_rate": self.prior_rate,
            "draws": self.draws,
        }

    def posterior(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Location, scale and degrees of freedom of each arm's posterior mean."""
        n = self.pulls[idx].astype(float)
        total = self.sums[idx]
        mean = np.divide(total, n, out=np.zeros_like(total), where=n > 0)
        squares = np.maximum(self.sums_sq[idx] - n * mean * mean, 0.0)
        kappa = self.prior_strength + n
        mu = (self.prior_strength * self.prior_mean + total) / kappa
        shape = self.prior_shape + n / 2.0
        rate = (
            self.prior_rate
            + 0.5 * squares
            + self.prior_strength * n * (mean - self.prior_mean) ** 2 / (2.0 * kappa)
        )
        return mu, np.sqrt(rate / (shape * kappa)), 2.0 * shape

    def posterior_draws(self, rng: np.random.Generator, idx: np.ndarray) -> np.ndarray:
        """A (len(idx), draws) matrix of posterior draws of each arm's mean."""
        mu, scale, dof = self.posterior(idx)
        return mu[:, None] + scale[:, None] * rng.standard_t(
            dof[:, None], size=(idx.size, self.draws)
        )

    def _pick(self, rng: np.random.Generator, idx: np.ndarray) -> tuple[int, np.ndarray]:
        probs = self._monte_carlo.probabilities(rng, idx, self.posterior_draws)
        return pick_from(rng, probs), probs
