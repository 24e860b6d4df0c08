"""Thompson sampling with a Normal model for a continuous reward (revenue per send).

Normal–Gamma prior on each arm's mean and precision; the posterior of the mean is a Student t
with ``2 * alpha_n`` degrees of freedom, centred on ``mu_n`` with scale
``sqrt(beta_n / (alpha_n * kappa_n))``. Choice and Monte-Carlo propensity as in ``thompson``.

Every draw is exact: ``t = Z / sqrt(V / nu)`` with ``Z`` standard normal and ``V`` chi-square
with ``nu`` degrees of freedom, independent. Each reward adds one degree of freedom, and a
chi-square with one more degree of freedom is ``V + Z0^2`` for a standard normal ``Z0``
independent of ``V``. The policy keeps each arm's ``V`` and ``Z`` draws; at a change the old
numerators ``Z`` (independent of ``V``) become that new term and fresh ``Z`` are drawn, so one
update costs one standard normal per draw. Statistics that shrink (a state loaded from the
store) are drawn afresh.
"""

from __future__ import annotations

import math
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
        # Per arm: chi-square draws behind the t draws, and their degrees of freedom (NaN:
        # never drawn).
        self._chi2 = np.empty((self.n_arms, self.draws))
        self._normal = np.empty((self.n_arms, self.draws))
        self._drawn_dof = np.full(self.n_arms, np.nan)

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

    def posterior_of(self, arm: int) -> tuple[float, float, float]:
        """Location, scale and degrees of freedom of ``arm``'s posterior mean."""
        n = float(self.pulls[arm])
        total = float(self.sums[arm])
        mean = total / n if n > 0 else 0.0
        squares = max(float(self.sums_sq[arm]) - n * mean * mean, 0.0)
        kappa = self.prior_strength + n
        mu = (self.prior_strength * self.prior_mean + total) / kappa
        shape = self.prior_shape + n / 2.0
        rate = (
            self.prior_rate
            + 0.5 * squares
            + self.prior_strength * n * (mean - self.prior_mean) ** 2 / (2.0 * kappa)
        )
        return mu, math.sqrt(rate / (shape * kappa)), 2.0 * shape

    def posterior_draws(self, rng: np.random.Generator, idx: np.ndarray) -> np.ndarray:
        """A (len(idx), draws) matrix of exact posterior draws of each arm's mean."""
        out = np.empty((idx.size, self.draws))
        for row, arm in enumerate(idx.tolist()):
            mu, scale, nu = self.posterior_of(arm)
            grow = nu - self._drawn_dof[arm]
            chi2 = self._chi2[arm]
            if grow == 1.0:  # one more reward: the last numerators become the new term
                chi2 += np.square(self._normal[arm])
            elif not grow >= 0.0:  # fewer degrees of freedom than drawn, or never drawn
                chi2[:] = rng.chisquare(nu, self.draws)
            elif grow > 0.0:
                chi2 += rng.chisquare(grow, self.draws)
            self._drawn_dof[arm] = nu
            normal = self._normal[arm]
            normal[:] = rng.standard_normal(self.draws)
            np.multiply(normal, scale * math.sqrt(nu) / np.sqrt(chi2), out=out[row])
            out[row] += mu
        return out

    def _pick(self, rng: np.random.Generator, idx: np.ndarray) -> tuple[int, np.ndarray]:
        probs = self._monte_carlo.probabilities(rng, idx, self.posterior_draws)
        return pick_from(rng, probs), probs
