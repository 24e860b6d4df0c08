"""The engine's code path: LightGBM's estimator with the native parameters, and the validation
curve that a Dask fit (no early stopping) is judged by equals LightGBM's own metric."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.models.engine import LocalEngine, estimator_params, fit_booster, staged_log_loss

PARAMS = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 7,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "seed": 3,
    "num_threads": 1,
    "verbose": -1,
    "deterministic": True,
}


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    x[:, 4] = rng.integers(0, 4, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x[:, 0] + 0.5 * x[:, 1] * (x[:, 4] == 2))))).astype(int)
    return x, y


def test_native_names_become_the_estimators_own() -> None:
    out = estimator_params(PARAMS, 50)
    assert out["n_estimators"] == 50
    assert out["subsample"] == 0.8 and out["colsample_bytree"] == 0.9
    assert out["reg_lambda"] == 1.0 and out["random_state"] == 3 and out["n_jobs"] == 1
    assert "bagging_fraction" not in out and "seed" not in out


def test_the_curve_without_early_stopping_is_lightgbms_log_loss() -> None:
    train, valid = _data(3000, 1), _data(1000, 2)
    common = {"feature_name": [f"f{i}" for i in range(5)], "categorical": [4]}
    stopped = fit_booster(
        LocalEngine(), PARAMS, train, valid, rounds=300, early_stopping_rounds=10, **common
    )
    full = fit_booster(
        LocalEngine(early_stopping=False),
        PARAMS,
        train,
        valid,
        rounds=len(stopped.valid_loss),
        early_stopping_rounds=10,
        **common,
    )
    # Same trees either way; the curve computed from the booster is LightGBM's metric.
    assert len(full.valid_loss) == len(stopped.valid_loss) < 300
    np.testing.assert_allclose(full.valid_loss, stopped.valid_loss, rtol=1e-9)
    assert staged_log_loss(full.booster, *valid)[-1] == pytest.approx(full.valid_loss[-1])
