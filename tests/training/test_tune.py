"""``optimizer tune lead-score``: an Optuna study as a parent MLflow run with one child per trial."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from mlflow import MlflowClient

from optimizer.cli import main
from optimizer.models.registry import CHALLENGER, client_for, get_alias_version
from optimizer.settings import Settings
from tests.training.csvdata import make_table, write_csv


def _history(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "history.csv", make_table(1100, seed=2))


def test_tune_makes_a_parent_run_with_trial_children_and_registers_the_best(
    tmp_path: Path, ml_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _history(tmp_path)
    args = ["tune", "lead-score", "--csv", str(path), "--target", "converted", "--time-order"]
    args += ["--trials", "3", "--window", "500", "--step", "300", "--max-rounds", "80"]
    args += ["--changes", "income", "--seed", "7"]
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    payload = json.loads(captured.out.strip().splitlines()[-1])
    assert payload["trials"] == 3 and payload["completed"] + payload["pruned"] == 3
    assert 0.5 < payload["best_value"] <= 1.0
    assert {"learning_rate", "num_leaves", "recency"} <= set(payload["best_params"])

    client = MlflowClient(tracking_uri=ml_settings.resolved_mlflow_uri())
    parent = client.get_run(payload["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.params["best.learning_rate"] == str(payload["best_params"]["learning_rate"])
    assert parent.data.metrics["best.walk_forward.roc_auc"] == pytest.approx(payload["best_value"])
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert "plots/param_importance.png" in artifacts
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    roles = sorted(r.data.tags["tune.role"] for r in children)
    assert roles == ["final", "trial", "trial", "trial"]
    assert all(r.info.status == "FINISHED" for r in children)
    trial = next(r for r in children if r.data.tags["tune.role"] == "trial")
    history = client.get_metric_history(trial.info.run_id, "walk_forward.roc_auc_so_far")
    assert [m.step for m in history] == [0, 1]  # (1100 - 500) / 300 steps

    final = next(r for r in children if r.data.tags["tune.role"] == "final")
    trained = payload["trained"]
    assert final.info.run_id == trained["run_id"]
    assert final.data.params["lgb.learning_rate"] == str(payload["best_params"]["learning_rate"])
    assert final.data.params["drift.changes"] == "income"
    tuned = json.loads(
        (
            Path(client.download_artifacts(final.info.run_id, "tuning", str(tmp_path / "dl")))
            / "best_params.json"
        ).read_text()
    )
    assert tuned["params"] == payload["best_params"]
    registry = client_for(ml_settings.resolved_mlflow_uri())
    version = get_alias_version(ml_settings.lead_score_model_name, CHALLENGER, client=registry)
    assert version is not None and str(version.version) == trained["version"] == "1"
    assert json.loads(version.tags["tuned_params"]) == payload["best_params"]


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--trials", "0"], "--trials 0: at least 1"),
        (["--trials", "-2"], "--trials -2: at least 1"),
        (["--timeout", "0"], "--timeout 0.0: a positive number"),
        (["--window", "5000"], "needs more rows than the window"),
        (["--changes", "plan"], "numeric column expected"),
        (["--monotone", "visits=3"], "COLUMN=\\+1 or COLUMN=-1"),
    ],
)
def test_bad_tune_input_is_one_clear_line(
    tmp_path: Path,
    ml_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    match: str,
) -> None:
    path = _history(tmp_path)
    args = ["tune", "lead-score", "--csv", str(path), "--target", "converted", "--time-order"]
    code = main([*args, "--window", "500", "--step", "300", "--trials", "1", *extra])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2
    assert last.startswith("error: ")
    assert re.search(match, last), last


def test_tune_needs_time_ordered_rows(
    tmp_path: Path, ml_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _history(tmp_path)
    code = main(["tune", "lead-score", "--csv", str(path), "--target", "converted"])
    assert code == 2
    assert "--time-order" in capsys.readouterr().err


@pytest.mark.parametrize("half_life", ["-5", "0"])
def test_train_refuses_a_bad_half_life(
    tmp_path: Path, ml_settings: Settings, capsys: pytest.CaptureFixture[str], half_life: str
) -> None:
    path = _history(tmp_path)
    args = ["train", "lead-score", "--csv", str(path), "--target", "converted", "--time-order"]
    code = main([*args, "--half-life", half_life])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--half-life {float(half_life)}: a positive number of rows expected" in err


def test_changes_are_refused_on_the_store_path(
    ml_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "lead-score", "--changes", "euribor3m"])
    assert code == 2
    assert "--changes applies to --csv only" in capsys.readouterr().err


def test_recent_level_is_refused_on_the_store_path(
    ml_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "lead-score", "--recent-level", "200"])
    assert code == 2
    assert "--recent-level applies to --csv only" in capsys.readouterr().err
