"""LightGBM on Dask (``lightgbm.dask.DaskLGBMClassifier`` on a 2-worker ``LocalCluster``) trains
the same lead-score model as local training: same split, features, calibration, run and
registration, ROC AUC within 0.01 on the bank data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from optimizer.cli import main
from optimizer.errors import InvalidInput
from optimizer.models.engine import check_engine
from optimizer.models.registry import client_for
from optimizer.settings import Settings

# Both engines get the same cap: Dask has no early stopping, so it trains every round.
ROUNDS = "500"


def _train(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    assert "Warning" not in captured.err, captured.err[-3000:]
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert isinstance(out, dict)
    return out


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.timeout(300)
def test_dask_training_matches_local_on_the_bank_data(
    data_dir: Path, ml_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = data_dir / "bank-additional-full.csv.gz"
    common = ["train", "lead-score", "--csv", str(bank), "--target", "y", "--drop", "duration"]
    common += ["--max-rounds", ROUNDS]
    local = _train(common, capsys)
    dask = _train([*common, "--engine", "dask", "--dask-workers", "2"], capsys)

    local_m, dask_m = local["metrics"], dask["metrics"]
    assert isinstance(local_m, dict) and isinstance(dask_m, dict)
    local_auc, dask_auc = local_m["holdout.roc_auc"], dask_m["holdout.roc_auc"]
    with capsys.disabled():
        print(
            f"\nbank lead score, {ROUNDS} rounds at most: local ROC AUC {local_auc:.4f} in "
            f"{local_m['train_seconds']:.1f} s; Dask (2 workers) ROC AUC {dask_auc:.4f} in "
            f"{dask_m['train_seconds']:.1f} s"
        )
    assert local_auc > 0.78
    assert abs(dask_auc - local_auc) <= 0.01
    # Same holdout rows and the same baselines: the split and the features are the same.
    for key in ("holdout.n", "holdout.positives", "holdout.logistic.roc_auc"):
        assert dask_m[key] == local_m[key]
    assert dask["calibration"] in ("identity", "sigmoid", "isotonic")

    client = MlflowClient(tracking_uri=ml_settings.resolved_mlflow_uri())
    run = client.get_run(str(dask["run_id"]))
    assert run.info.status == "FINISHED"
    assert run.data.params["engine"] == "dask" and run.data.params["dask.workers"] == "2"
    assert client.get_run(str(local["run_id"])).data.params["engine"] == "local"
    registry = client_for(ml_settings.resolved_mlflow_uri())
    version = registry.get_model_version("lead-score", str(dask["version"]))
    assert version.tags["engine"] == "dask"
    assert set(registry.get_registered_model("lead-score").aliases) == {"challenger"}


@pytest.mark.parametrize(
    ("name", "scheduler", "workers", "message"),
    [
        ("spark", None, None, "not one of local, dask"),
        ("local", "tcp://127.0.0.1:8786", None, "apply to --engine dask only"),
        ("dask", None, 0, "at least 1"),
        ("dask", "127.0.0.1:8786", None, "tcp://HOST:PORT"),
    ],
)
def test_engine_options_are_checked_before_training(
    name: str, scheduler: str | None, workers: int | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_engine(name, scheduler=scheduler, workers=workers)
