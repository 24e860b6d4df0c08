"""``optimizer train uplift``: exit codes, the table, the JSON keys, the MLflow run and registry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from optimizer.cli import main
from tests.uplift.synthetic import experiment

KEYS = ("qini", "auuc", "uplift_at_10", "uplift_at_20", "uplift_at_30")


def _write(path: Path, n: int = 3000, seed: int = 1, *, arms: int = 2) -> Path:
    frame, y, t = experiment(n, seed)
    revenue = np.round(y * np.random.default_rng(seed).gamma(2.0, 20.0, n), 2)
    arm = np.where(t == 1, "sms", "none").astype(object)
    if arms == 3:
        arm[::7] = "email"
    frame = frame.assign(arm=arm, replied=y.astype(int), revenue=revenue)
    frame.to_csv(path, index=False)
    return path


def _run(csv: Path, *extra: str) -> list[str]:
    return [
        "train",
        "uplift",
        "--csv",
        str(csv),
        "--treatment",
        "arm",
        "--control",
        "none",
        "--target",
        "replied",
        "--bootstrap",
        "20",
        *extra,
    ]


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_train_registers_and_promotes_then_validates_against_the_champion(
    tmp_path: Path, ml_settings, capsys
):
    csv = _write(tmp_path / "trial.csv", n=8000)
    code = main(_run(csv, "--drop", "revenue", "--seed", "3"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    payload = _last_json(captured.out)
    for key in KEYS:
        for suffix in ("", "_low", "_high"):
            assert isinstance(payload[key + suffix], float), key + suffix
            assert isinstance(payload["response"][key + suffix], float)
            assert isinstance(payload["random"][key + suffix], float)
        assert payload[key + "_low"] <= payload[key + "_high"]
    assert payload["rows"] == 8000 and payload["rows_scored"] == 4000
    assert payload["version"] == "1" and payload["learner"] == "two_model"
    assert payload["qini"] > payload["response"]["qini"]
    assert payload["promoted"] is True
    assert "response model" in captured.out and "random" in captured.out

    client = MlflowClient(ml_settings.mlflow_tracking_uri, ml_settings.mlflow_tracking_uri)
    run = client.get_run(payload["run_id"])
    assert run.data.metrics["holdout.model.qini"] == pytest.approx(payload["qini"])
    assert run.data.metrics["holdout.response.qini"] == pytest.approx(payload["response"]["qini"])
    assert run.data.params["learner"] == "two_model" and run.data.params["seed"] == "3"
    artifacts = {a.path for a in client.list_artifacts(payload["run_id"], "plots")}
    assert "plots/qini.png" in artifacts
    assert str(client.get_model_version_by_alias("uplift", "champion").version) == "1"

    # A second learner is validated against that champion, re-scored on the new holdout.
    code = main(_run(csv, "--drop", "revenue", "--learner", "x_learner", "--folds", "3"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    second = _last_json(captured.out)
    assert second["version"] == "2" and second["champion_version"] == "1"
    assert isinstance(second["champion_qini"], float)
    assert second["cv"]["folds"] == 3 and len(second["cv"]["fold_qini"]) == 3
    assert second["cv"]["rows_scored"] == 8000
    tags = client.get_model_version("uplift", "2").tags
    assert tags["validation.metric"] == "qini" and tags["validation.champion_version"] == "1"
    assert tags["validation.comparable"] == "true"
    champion = str(client.get_model_version_by_alias("uplift", "champion").version)
    assert (champion == "2") == second["promoted"]


@pytest.mark.parametrize("learner", ["class_transformation", "x_learner", "two_model"])
def test_revenue_outcome(tmp_path: Path, ml_settings, capsys, learner):
    csv = _write(tmp_path / "trial.csv", n=2000)
    args = _run(
        csv, "--drop", "replied", "--outcome", "continuous", "--learner", learner, "--no-register"
    )
    args[args.index("replied")] = "revenue"
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    payload = _last_json(captured.out)
    assert payload["outcome"] == "continuous" and payload["version"] is None
    assert all(isinstance(payload[k], float) for k in KEYS)


def test_three_arms_need_treated(tmp_path: Path, ml_settings, capsys):
    csv = _write(tmp_path / "trial.csv", arms=3)
    assert main(_run(csv, "--drop", "revenue")) == 2
    assert "pass --treated VALUE" in capsys.readouterr().err
    code = main(_run(csv, "--drop", "revenue", "--treated", "sms", "--no-register"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "rows with other values of 'arm'" in captured.err
    payload = _last_json(captured.out)
    assert payload["rows"] == 3000 - len(range(0, 3000, 7))


def _bad(tmp_path: Path, change: str) -> Path:
    path = _write(tmp_path / "trial.csv", n=400)
    frame = pd.read_csv(path)
    if change == "nan-target":
        frame.loc[5, "replied"] = np.nan
    elif change == "nan-treatment":
        frame.loc[5, "arm"] = np.nan
    elif change == "non-binary":
        frame.loc[5, "replied"] = 2
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        ("", ["--target", "clicked"], "--target column 'clicked' is not in"),
        ("", ["--treatment", "group"], "--treatment column 'group' is not in"),
        ("", ["--control", "holdout"], "--control 'holdout' is not a value of treatment column"),
        ("", ["--treated", "push"], "--treated 'push' is not a value"),
        ("", ["--drop", "nope"], "--drop column 'nope' is not in"),
        ("", ["--learner", "s_learner"], "--learner 's_learner' is not one of"),
        ("", ["--outcome", "count"], "--outcome 'count' is not one of"),
        ("", ["--test-size", "1.5"], "--test-size 1.5 must be between 0 and 1"),
        ("", ["--folds", "1"], "--folds 1 must be between 2 and 20"),
        ("", ["--target", "revenue"], "target column 'revenue' is not binary"),
        ("non-binary", [], "target column 'replied' is not binary"),
        ("nan-target", [], "target column 'replied' has 1 rows without a value (NaN)"),
        ("nan-treatment", [], "treatment column 'arm' has 1 rows without a value"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, ml_settings, capsys, change, extra, message
):
    csv = _bad(tmp_path, change)
    args = _run(csv)
    for option, value in zip(extra[::2], extra[1::2], strict=True):
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    code = main(args)
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert captured.out == ""


def test_a_missing_file_is_exit_2(tmp_path: Path, ml_settings, capsys):
    assert main(_run(tmp_path / "absent.csv")) == 2
    assert "does not exist" in capsys.readouterr().err
