"""ε-greedy: with probability ε a uniform arm, otherwise the arm with the best mean so far.

Propensity exact: ``ε / k + (1 - ε) / (number of tied best arms)`` for a best arm, ``ε / k``
otherwise. Arms never played count as best (so each is tried once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from optimizer.bandits.base import BasePolicy, ParamValue, pick_from, ties_uniform
from optimizer.errors import InvalidInput


@dataclass
class EpsilonGreedy(BasePolicy):
    name: ClassVar[str] = "epsilon_greedy"

    epsilon: float = 0.1

    def _check_params(self) -> None:
        if not 0.0 <= self.epsilon <= 1.0:
            raise InvalidInput(f"epsilon {self.epsilon!r}: must be in [0, 1]", field="epsilon")

    def params(self) -> dict[str, ParamValue]:
        return {**super().params(), "epsilon": self.epsilon}

    def _pick(self, rng: np.random.Generator, idx: np.ndarray) -> tuple[int, np.ndarray]:
        n = self.pulls[idx]
        means = np.divide(self.sums[idx], n, out=np.full(idx.size, np.inf), where=n > 0)
        greedy = ties_uniform(means)
        probs = self.epsilon / idx.size + (1.0 - self.epsilon) * greedy
        return pick_from(rng, probs), probs
