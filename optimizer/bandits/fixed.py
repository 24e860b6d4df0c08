"""Non-adaptive allocations: a fixed split with given weights (classic A/B), and uniform.

Both ignore rewards when choosing (they still keep the statistics) and skip burn-in and the
minimum share by default: their propensity is the (renormalised) weight, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from optimizer.bandits.base import BasePolicy, ParamValue, pick_from
from optimizer.errors import InvalidInput

WEIGHT_TOLERANCE = 1e-6


@dataclass
class FixedSplit(BasePolicy):
    name: ClassVar[str] = "fixed_split"
    adaptive: ClassVar[bool] = False

    burn_in: int = 0
    min_share: float = 0.0
    weights: tuple[float, ...] | None = None

    def _check_params(self) -> None:
        if self.weights is None:
            self.weights = tuple([1.0 / self.n_arms] * self.n_arms)
        weights = tuple(float(w) for w in self.weights)
        if len(weights) != self.n_arms:
            raise InvalidInput(
                f"weights {list(weights)}: {len(weights)} given for {self.n_arms} arms",
                field="weights",
            )
        if any(not np.isfinite(w) or w < 0 for w in weights):
            raise InvalidInput(f"weights {list(weights)}: must all be >= 0", field="weights")
        if abs(sum(weights) - 1.0) > WEIGHT_TOLERANCE:
            raise InvalidInput(
                f"weights {list(weights)} sum to {sum(weights):.6g} (they must sum to 1)",
                field="weights",
            )
        self.weights = weights
        self._weights = np.asarray(weights)

    def params(self) -> dict[str, ParamValue]:
        return {**super().params(), "weights": self.weights}

    def _pick(self, rng: np.random.Generator, idx: np.ndarray) -> tuple[int, np.ndarray]:
        raw = self._weights[idx]
        total = raw.sum()
        if total <= 0:
            raise InvalidInput(
                f"eligible arms {list(map(int, idx))} all have weight 0 in the fixed split"
            )
        probs = raw / total
        return pick_from(rng, probs), probs


@dataclass
class Uniform(BasePolicy):
    name: ClassVar[str] = "uniform"
    adaptive: ClassVar[bool] = False

    burn_in: int = 0
    min_share: float = 0.0

    def _pick(self, rng: np.random.Generator, idx: np.ndarray) -> tuple[int, np.ndarray]:
        return int(rng.integers(idx.size)), np.full(idx.size, 1.0 / idx.size)
