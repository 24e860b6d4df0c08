"""Replay (Li et al., 2011) on synthetic uniform logs and on a slice of Hillstrom; MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from experiments.replay import ARMS, MLFLOW_EXPERIMENT, load_hillstrom, run_replay
from optimizer.cli import main
from optimizer.errors import InvalidInput


def _synthetic(tmp_path: Path, rows: int = 3000) -> Path:
    rng = np.random.default_rng(0)
    arm = rng.integers(0, 3, rows)
    visit = (rng.random(rows) < np.array([0.5, 0.2, 0.1])[arm]).astype(int)
    path = tmp_path / "log.csv"
    pd.DataFrame({"segment": np.array(ARMS)[arm], "visit": visit, "spend": visit * 3.0}).to_csv(
        path, index=False
    )
    return path


def test_replay_counts_only_matching_rows_and_learns(tmp_path: Path) -> None:
    data = load_hillstrom(_synthetic(tmp_path), "visit")
    report = run_replay(data, ["thompson", "uniform"], seeds=2)
    by_name = {p.policy: p for p in report.policies}
    assert report.oracle_arm == ARMS[0]
    for summary in report.policies:
        assert all(900 <= run.counted <= 1100 for run in summary.runs)  # about 1/3 of 3000
    assert by_name["thompson"].mean > 0.42
    assert by_name["uniform"].mean == pytest.approx(np.mean(report.arm_values), abs=0.04)
    again = run_replay(data, ["thompson"], seeds=1)
    assert again.policies[0].runs[0].mean_reward == by_name["thompson"].runs[0].mean_reward


def test_cli_replay_on_hillstrom_slice_logs_to_mlflow(
    data_dir: Path,
    mlflow_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPTIMIZER_MLFLOW_TRACKING_URI", mlflow_uri)
    code = main(
        [
            "experiments",
            "replay",
            "--data",
            str(data_dir / "hillstrom.csv.gz"),
            "--reward",
            "visit",
            "--policy",
            "thompson,uniform",
            "--seeds",
            "1",
            "--sample-rows",
            "3000",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    payload = json.loads(out.strip().splitlines()[-1])
    assert payload["oracle_arm"] == "Mens E-Mail"
    assert payload["rows"] == 3000
    assert set(payload["policies"]) == {"thompson", "uniform"}
    client = MlflowClient(mlflow_uri)
    experiment = client.get_experiment_by_name(MLFLOW_EXPERIMENT)
    assert experiment is not None
    run_id = payload["policies"]["thompson"]["mlflow_run_id"]
    run = client.get_run(run_id)
    assert run.data.params["policy"] == "thompson"
    assert run.data.metrics["mean_reward"] == pytest.approx(payload["policies"]["thompson"]["mean"])
    assert [a.path for a in client.list_artifacts(run_id, "plots")] == [
        "plots/cumulative_reward.png"
    ]


def test_replay_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _synthetic(tmp_path)
    with pytest.raises(InvalidInput, match="column 'conversion' is missing"):
        load_hillstrom(path, "conversion")
    with pytest.raises(InvalidInput, match="reward 'opens' is unknown"):
        load_hillstrom(path, "opens")
    with pytest.raises(InvalidInput, match="does not exist"):
        load_hillstrom(tmp_path / "nope.csv", "visit")
    data = load_hillstrom(path, "spend")
    with pytest.raises(InvalidInput, match="use 'thompson_normal'"):
        run_replay(data, ["thompson"], seeds=1)
    cases = [
        (["--reward", "conversion"], "column 'conversion' is missing"),
        (["--policy", "softmax"], "policy 'softmax' is unknown"),
        (["--seeds", "0"], "seeds 0"),
    ]
    for extra, message in cases:
        code = main(["experiments", "replay", "--data", str(path), "--no-mlflow", *extra])
        assert code == 2
        assert message in capsys.readouterr().err
