"""Train from a CSV -> MLflow run -> challenger -> validate -> promote -> serve, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from optimizer.cli import main
from optimizer.models.registry import CHALLENGER, CHAMPION, client_for, get_alias_version
from optimizer.models.serving import BASELINE_VERSION, LeadScorer
from optimizer.settings import Settings
from tests.training.csvdata import make_table, write_csv
from training import train_lead_score as train_module
from training.datasets import load_csv


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.strip().splitlines()
    assert len(lines) >= 2  # human-readable lines before the JSON line
    payload = json.loads(lines[-1])
    assert isinstance(payload, dict)
    return payload


def test_csv_model_is_tracked_registered_validated_promoted_and_served(
    tmp_path: Path, ml_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    table = make_table(1500, seed=1)
    path = write_csv(tmp_path / "history.csv", table)
    trained = _run(
        ["train", "lead-score", "--csv", str(path), "--target", "converted", "--time-order"],
        capsys,
    )
    metrics = trained["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["holdout.roc_auc"] > 0.7
    assert metrics["holdout.brier"] <= metrics["holdout.uncalibrated.brier"] + 0.01
    assert trained["version"] == "1"

    client = MlflowClient(tracking_uri=ml_settings.resolved_mlflow_uri())
    run = client.get_run(str(trained["run_id"]))
    assert run.info.status == "FINISHED"
    assert run.data.params["data.rows"] == "1500"
    assert len(run.data.params["data.digest"]) == 64
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert artifacts == {
        "plots/roc.png",
        "plots/calibration.png",
        "plots/importance.png",
        "plots/shap_summary.png",
    }
    assert run.inputs is not None and run.inputs.dataset_inputs[0].dataset.digest
    registry = client_for(ml_settings.resolved_mlflow_uri())
    version = get_alias_version("lead-score", CHALLENGER, client=registry)
    assert version is not None and version.tags["feature_source"].startswith("csv:")

    validated = _run(["models", "validate", "lead-score"], capsys)
    assert validated["champion"] is None and validated["challenger_version"] == "1"
    promoted = _run(["models", "promote", "lead-score"], capsys)
    assert promoted["promoted"] is True and promoted["champion_after"] == "1"

    # A second model: not better by a huge margin -> stays challenger; --force moves it.
    _run(
        ["train", "lead-score", "--csv", str(path), "--target", "converted", "--seed", "1"], capsys
    )
    validated = _run(["models", "validate", "lead-score"], capsys)
    assert validated["champion_version"] == "1" and validated["comparable"] is True
    assert not _run(["models", "promote", "lead-score", "--margin", "0.5"], capsys)["promoted"]
    assert _run(["models", "promote", "lead-score", "--force"], capsys)["champion_after"] == "2"
    listed = _run(["models", "list"], capsys)["versions"]
    assert isinstance(listed, list)
    assert {v["version"]: v["aliases"] for v in listed} == {"2": ["champion"], "1": []}

    # Serving: the CSV champion scores CSV features, and is refused for store features.
    data = load_csv(path, target="converted")
    scorer = LeadScorer.load(ml_settings, feature_source=data.feature_source)
    assert scorer.version == "lead-score:2" and scorer.note is None
    pool = scorer.score(data.frame.head(50), explain=True, top_k=2)
    assert pool.model_version == "lead-score:2"
    assert ((pool.score >= 0) & (pool.score <= 100)).all()
    assert set(pool.segment) <= {"hot", "warm", "cold"}
    assert all(len(r) <= 2 for r in pool.reasons)
    one = scorer.score_one(data.frame.iloc[7].to_dict(), top_k=2)
    assert one.probability == pytest.approx(pool.probability[7], rel=1e-9)
    assert one.reasons == pool.reasons[7]
    missing = scorer.score(data.frame.head(3).drop(columns=["visits"]))
    assert missing.model_version == BASELINE_VERSION and "visits" in (missing.note or "")

    store_scorer = LeadScorer.load(ml_settings)
    assert store_scorer.version == BASELINE_VERSION
    assert "csv:" in (store_scorer.note or "") and "store:v1" in (store_scorer.note or "")
    assert get_alias_version("lead-score", CHAMPION, client=registry) is not None


def test_a_run_that_fails_is_marked_failed(
    tmp_path: Path, ml_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = load_csv(write_csv(tmp_path / "h.csv", make_table(400)), target="converted")

    def broken(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(train_module.plots, "roc_figure", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        train_module.train_lead_score(data, settings=ml_settings)
    client = MlflowClient(tracking_uri=ml_settings.resolved_mlflow_uri())
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert [r.info.status for r in runs] == ["FAILED"]
    assert client.search_registered_models() == []


def test_no_champion_means_the_points_baseline_answers(ml_settings: Settings) -> None:
    scorer = LeadScorer.load(ml_settings)
    assert scorer.version == BASELINE_VERSION and "no champion" in (scorer.note or "")
    features = pd.DataFrame(
        {
            "days_since_engagement": [3.0, None],
            "purchase_count": [1, 0],
            "days_since_sms_reply": [2.0, None],
        }
    )
    scores = scorer.score(features, explain=True)
    assert scores.score.tolist() == [85.0, 0.0]
    assert scores.segment.tolist() == ["hot", "cold"]
    assert scores.reasons[0][0] == ("purchase", 30.0)
    one = scorer.score_one(
        {"days_since_engagement": 3.0, "purchase_count": 1, "days_since_sms_reply": 2.0}
    )
    assert one.score == 85.0 and one.model_version == BASELINE_VERSION
