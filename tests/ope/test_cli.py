"""``optimizer experiments evaluate-policy`` on OBD-layout CSV logs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.cli import main


def _write_log(path: Path, n: int, seed: int, *, items: int = 3, positions: int = 2) -> float:
    """A uniform-random log: item i clicked with rate 0.1 + 0.2 i. Returns the mean click."""
    rng = np.random.default_rng(seed)
    item = rng.integers(0, items, n)
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=n, freq="min").astype(str),
            "item_id": item,
            "position": rng.integers(1, positions + 1, n),
            "click": (rng.random(n) < 0.1 + 0.2 * item).astype(int),
            "propensity_score": 1 / items,
            "user_feature_0": rng.choice(["a", "b", "c"], n),
        }
    )
    frame.to_csv(path)
    return float(frame["click"].mean())


def test_uniform_policy_on_a_uniform_log_is_the_logged_mean(tmp_path: Path, ml_settings, capsys):
    path = tmp_path / "random-men.csv"
    mean = _write_log(path, 600, 1)
    code = main(
        [
            "experiments",
            "evaluate-policy",
            "--log",
            str(path),
            "--policy",
            "uniform",
            "--resamples",
            "200",
            "--seed",
            "3",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    payload = json.loads(out.strip().splitlines()[-1])
    assert payload["estimates"]["ipw"]["value"] == pytest.approx(mean, abs=1e-12)
    assert payload["weights"]["max_weight"] == pytest.approx(1.0)
    assert "estimator" in out and "dr-os" in out
    import mlflow

    mlflow.set_tracking_uri(ml_settings.mlflow_tracking_uri)
    run = mlflow.get_run(payload["mlflow_run_id"])
    assert run.data.params["policy"] == "uniform"
    assert run.data.metrics["ipw.value"] == pytest.approx(mean, abs=1e-12)
    assert "weights.effective_sample_size" in run.data.metrics


def test_bts_policy_with_its_on_policy_log(tmp_path: Path, capsys):
    log = tmp_path / "random-men.csv"
    _write_log(log, 900, 2)
    on_policy = tmp_path / "bts-men.csv"
    truth = _write_log(on_policy, 300, 3)
    (tmp_path / "prior_bts.yaml").write_text(
        "men:\n  alpha: [2.0, 5.0, 9.0]\n  beta: [20.0, 20.0, 20.0]\n", encoding="utf-8"
    )
    code = main(
        [
            "experiments",
            "evaluate-policy",
            "--log",
            str(log),
            "--policy",
            "bts",
            "--on-policy-log",
            str(on_policy),
            "--runs",
            "2",
            "--n-sim",
            "20000",
            "--resamples",
            "100",
            "--no-mlflow",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    payload = json.loads(out.strip().splitlines()[-1])
    assert payload["campaign"] == "men" and payload["mlflow_run_id"] is None
    assert payload["on_policy_value"] == pytest.approx(truth)
    # BTS favours item 2, the best one: its estimated value beats the uniform log's mean.
    assert payload["estimates"]["snipw"]["value"] > payload["logged_mean_reward"]
    assert payload["estimates"]["dr"]["relative_error_mean"] >= 0
    assert "mean rel.err" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--policy", "magic"], "--policy 'magic' is not one of uniform, bts"),
        (["--policy", "uniform", "--estimators", "ipw,foo"], "'foo' is not one of"),
        (["--policy", "uniform", "--model", "svm"], "reward model 'svm' is not one of"),
        (["--policy", "bts", "--campaign", "kids"], "--campaign 'kids' is not one of"),
        (["--policy", "bts"], "prior file"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path: Path, capsys, extra, message):
    path = tmp_path / "random-men.csv"
    _write_log(path, 50, 0)
    code = main(["experiments", "evaluate-policy", "--log", str(path), "--no-mlflow", *extra])
    assert code == 2
    assert message in capsys.readouterr().err


def test_unreadable_logs(tmp_path: Path, capsys):
    missing = main(
        [
            "experiments",
            "evaluate-policy",
            "--log",
            str(tmp_path / "x.csv"),
            "--policy",
            "uniform",
            "--no-mlflow",
        ]
    )
    assert missing == 2 and "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"item_id": [0], "click": [1]}).to_csv(bad)
    code = main(
        ["experiments", "evaluate-policy", "--log", str(bad), "--policy", "uniform", "--no-mlflow"]
    )
    assert code == 2 and "column 'position' is missing" in capsys.readouterr().err
    store = main(["experiments", "evaluate-policy", "--log", "store", "--policy", "uniform"])
    assert store == 2 and "--log store" in capsys.readouterr().err
