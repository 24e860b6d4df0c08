"""A randomised experiment with a known uplift: persuadables, sleeping dogs and sure things.

``x1`` carries the effect (a text helps when x1 > 0 and hurts when x1 < 0), ``x3`` carries the
base rate only (sure things: they respond whether texted or not), ``x2`` is a category that
adds a little effect in "a", ``x4`` is noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.models.encoding import FeatureSpec, fit_spec


def true_uplift(frame: pd.DataFrame, *, continuous: bool = False) -> np.ndarray:
    tau = 0.15 * frame["x1"].to_numpy() + 0.05 * (frame["x2"] == "a").to_numpy()
    return 20.0 * tau if continuous else tau


def experiment(
    n: int, seed: int, *, continuous: bool = False
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(features, outcome, treatment flag) for ``n`` rows, treated with probability 1/2."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.uniform(-1, 1, n),
            "x2": rng.choice(np.array(["a", "b", "c"]), n),
            "x3": rng.uniform(-1, 1, n),
            "x4": rng.normal(size=n),
        }
    )
    t = rng.integers(0, 2, n)
    tau = true_uplift(frame, continuous=continuous)
    if continuous:
        base = 30.0 + 20.0 * frame["x3"].to_numpy()
        y = base + t * tau + rng.normal(0, 5, n)
    else:
        base = 0.35 + 0.25 * frame["x3"].to_numpy()
        y = (rng.random(n) < np.clip(base + t * tau, 0, 1)).astype(np.float64)
    return frame, y, t


def encoded(frame: pd.DataFrame) -> tuple[FeatureSpec, np.ndarray]:
    spec = fit_spec(frame, source="test")
    return spec, spec.encode(frame)
