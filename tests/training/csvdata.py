"""A synthetic "bring your own history" CSV: numeric, text, missing values, an ID, a date."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def make_table(n: int = 1200, *, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro"], n)
    visits = rng.poisson(3, n)
    income = rng.normal(50, 12, n)
    logit = -2.0 + 0.45 * visits + 0.8 * (plan == "pro") + 0.03 * (income - 50)
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    income[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i}" for i in range(n)],
            "signup": pd.date_range("2025-01-01", periods=n, freq="6h").strftime("%Y-%m-%d"),
            "plan": pd.Series(plan, dtype=object).where(rng.random(n) >= 0.05),
            "city": [f"city{c}" for c in rng.integers(0, 400, n)],
            "visits": visits,
            "income": income.round(2),
            "channel": "web",
            "converted": np.where(converted, "yes", "no"),
        }
    )


def write_csv(path: Path, frame: pd.DataFrame, *, sep: str = ",") -> Path:
    frame.to_csv(path, sep=sep, index=False)
    return path
