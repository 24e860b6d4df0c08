"""UCB1 (Auer et al., 2002): play the arm with the highest ``mean + c * sqrt(2 ln n / n_i)``.

Deterministic except for ties, which are broken uniformly: the propensity is exact (1 / number
of tied arms, before the minimum-share mixture). Arms never played have an infinite index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from optimizer.bandits.base import BasePolicy, ParamValue, pick_from, ties_uniform
from optimizer.errors import InvalidInput


@dataclass
class UCB1(BasePolicy):
    name: ClassVar[str] = "ucb1"

    exploration: float = 1.0

    def _check_params(self) -> None:
        if not self.exploration >= 0:
            raise InvalidInput(
                f"exploration {self.exploration!r}: must be >= 0", field="exploration"
            )

    def params(self) -> dict[str, ParamValue]:
        return {**super().params(), "exploration": self.exploration}

    def indices(self, idx: np.ndarray) -> np.ndarray:
        n = self.pulls[idx]
        if (n == 0).any():
            return np.where(n == 0, np.inf, 0.0)
        total = float(n.sum())
        return self.sums[idx] / n + self.exploration * np.sqrt(2.0 * np.log(total) / n)

    def _pick(self, rng: np.random.Generator, idx: np.ndarray) -> tuple[int, np.ndarray]:
        probs = ties_uniform(self.indices(idx))
        return pick_from(rng, probs), probs
