"""LightGBM on Dask (``lightgbm.dask.DaskLGBMClassifier`` on a 2-worker ``LocalCluster``) trains
the same lead-score model as local training: same split, features, calibration, run and
registration, ROC AUC within 0.01 on the bank data."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from optimizer.cli import main
from optimizer.errors import InvalidInput
from optimizer.models.engine import check_engine, open_engine
from optimizer.models.registry import client_for
from optimizer.settings import Settings
from optimizer.simulation import SimConfig, World
from optimizer.simulation.history import write_history
from optimizer.store.db import make_engine, session_factory, transaction, upgrade
from training.train_send_time import fit_send_time, load_frames, send_rows

NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)

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


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_send_time_trains_on_dask_like_locally(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    world = World.create(SimConfig(seed=21, history_leads=450), start=NOW, days=0, arrivals=0)
    with transaction(sessions) as session:
        write_history(session, world, leads=None, settings=settings, now=NOW)
        leads, events = load_frames(session)
    engine.dispose()
    rows = send_rows(leads, events, attribution_hours=settings.attribution_hours, now=NOW)
    local = fit_send_time(rows, seed=0)
    with open_engine("dask", workers=2) as trainer:
        dask = fit_send_time(rows, seed=0, engine=trainer)
    local_auc, dask_auc = local.metrics["holdout_roc_auc"], dask.metrics["holdout_roc_auc"]
    with capsys.disabled():
        print(f"\nsend time, {len(rows.label)} sends: local {local_auc:.4f}, Dask {dask_auc:.4f}")
    assert local.metrics["holdout_rows"] == dask.metrics["holdout_rows"]
    assert abs(dask_auc - local_auc) <= 0.02
    assert dask.metrics["priors_roc_auc"] == local.metrics["priors_roc_auc"]
