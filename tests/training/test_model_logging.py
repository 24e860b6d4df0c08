"""Logged models load anywhere: from code (no pickle), with the package as code, pinned
requirements that cover every import, signatures, input examples, the LightGBM flavour."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import mlflow
import mlflow.lightgbm
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.models import Model

from optimizer.cli import main
from optimizer.models.pyfunc import (
    LEAD_SCORE_REQUIREMENTS,
    SEND_TIME_REQUIREMENTS,
    pinned,
    send_time_output,
)
from optimizer.models.registry import CHAMPION, client_for, get_alias_version
from optimizer.models.send_time import SendTimeModel
from optimizer.models.serving import LeadScorer
from optimizer.settings import Settings
from optimizer.simulation import SimConfig, World
from optimizer.simulation.history import write_history
from optimizer.store.db import make_engine, session_factory, transaction, upgrade
from tests.training.csvdata import make_table, write_csv
from tests.training.portable import (
    bare_python,
    load_elsewhere,
    modules_not_covered,
)
from training.datasets import load_csv
from training.train_send_time import train_send_time

NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Warning" not in captured.err and "CloudPickle" not in captured.err
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert isinstance(out, dict)
    return out


def _logged(uri: str, tracking_uri: str, dst: Path) -> tuple[Path, dict[str, object]]:
    local = Path(
        mlflow.artifacts.download_artifacts(uri, dst_path=str(dst), tracking_uri=tracking_uri)
    )
    return local, yaml.safe_load((local / "MLmodel").read_text())


def _check_from_code(
    local: Path, mlmodel: dict[str, object], requirements: tuple[str, ...]
) -> None:
    flavors = mlmodel["flavors"]
    assert isinstance(flavors, dict)
    pyfunc = flavors["python_function"]
    assert pyfunc["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert "python_model" not in pyfunc  # no pickled object
    assert not list(local.rglob("*.pkl"))
    assert (local / pyfunc["code"] / "optimizer" / "__init__.py").is_file()
    lines = (local / "requirements.txt").read_text().split()
    assert lines == pinned(requirements)
    assert all("==" in line for line in lines)
    assert (local / "input_example.json").is_file() and mlmodel["signature"]


def _check_requirements_cover_imports(loaded: dict[str, object], local: Path) -> None:
    modules, top = loaded["modules"], loaded["loaded"]
    assert isinstance(modules, dict) and modules and isinstance(top, list)
    files = [Path(str(f)) for f in modules.values() if f]
    code_file = next(local.glob("*.py"))  # the model's own code (set_model)
    requirements = (local / "requirements.txt").read_text().split()
    missing = modules_not_covered([*files, code_file], set(top), requirements)
    assert not missing, f"imported but not pinned: {sorted(missing)}"


@pytest.mark.slow
def test_lead_score_model_is_logged_from_code_and_loads_without_the_package(
    tmp_path: Path, ml_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "history.csv", make_table(1500, seed=1))
    _cli(["train", "lead-score", "--csv", str(path), "--target", "converted"], capsys)
    _cli(["models", "validate", "lead-score"], capsys)
    assert _cli(["models", "promote", "lead-score"], capsys)["promoted"] is True
    uri = ml_settings.resolved_mlflow_uri()
    version = get_alias_version("lead-score", CHAMPION, client=client_for(uri))
    assert version is not None

    local, mlmodel = _logged("models:/lead-score@champion", uri, tmp_path / "logged")
    _check_from_code(local, mlmodel, LEAD_SCORE_REQUIREMENTS)
    signature = mlmodel["signature"]
    assert isinstance(signature, dict)
    inputs = [c["name"] for c in json.loads(signature["inputs"])]
    data = load_csv(path, target="converted")
    assert inputs == list(data.frame.columns)
    assert [c["name"] for c in json.loads(signature["outputs"])] == [
        "probability",
        "score",
        "segment",
        "reasons",
    ]
    example = Model.load(str(local)).load_input_example(str(local))
    assert isinstance(example, pd.DataFrame) and len(example) == 5

    # The app's serving path reads the same version.
    scorer = LeadScorer.load(ml_settings, feature_source=data.feature_source)
    assert scorer.version == f"lead-score:{version.version}" and scorer.model is not None
    served = scorer.score(example, explain=True)

    # The LightGBM flavour: the booster alone, raw (uncalibrated) probabilities.
    booster = mlflow.lightgbm.load_model(version.tags["booster_model_uri"])
    matrix = scorer.model.spec.encode(example)
    np.testing.assert_allclose(booster.predict(matrix), scorer.model.raw_probability(matrix))

    python = bare_python(tmp_path / "bare")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    loaded = load_elsewhere(
        python, "models:/lead-score@champion", tracking_uri=uri, workdir=workdir
    )
    assert loaded["absent_before"] is True
    modules = loaded["modules"]
    assert isinstance(modules, dict)
    assert all(str(f).startswith(str(workdir / "model")) for f in modules.values() if f)
    output = loaded["output"]
    assert isinstance(output, dict)
    np.testing.assert_allclose(output["probability"], served.probability, rtol=1e-12)
    assert output["segment"] == list(served.segment)
    first = json.loads(output["reasons"][0])
    assert list(first) == [name for name, _ in served.reasons[0]]
    _check_requirements_cover_imports(loaded, local)


@pytest.mark.slow
def test_send_time_model_has_a_signature_and_loads_without_the_package(
    tmp_path: Path, ml_settings: Settings
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    world = World.create(SimConfig(seed=21, history_leads=450), start=NOW, days=0, arrivals=0)
    with transaction(sessions) as session:
        write_history(session, world, leads=None, settings=ml_settings, now=NOW)
    with transaction(sessions) as session:
        result = train_send_time(session, ml_settings, now=NOW, promote_if_better=True)
    engine.dispose()
    assert result.promoted, result.promotion_reason
    uri = ml_settings.resolved_mlflow_uri()

    local, mlmodel = _logged("models:/send-time@champion", uri, tmp_path / "logged")
    _check_from_code(local, mlmodel, SEND_TIME_REQUIREMENTS)
    signature = mlmodel["signature"]
    assert isinstance(signature, dict)
    inputs = {c["name"]: c["type"] for c in json.loads(signature["inputs"])}
    assert inputs["slot_utc"] == "datetime" and inputs["time_zone"] == "string"
    example = Model.load(str(local)).load_input_example(str(local))
    served = send_time_output(SendTimeModel.load(ml_settings), example)
    assert ((served > 0) & (served < 1)).all()

    python = bare_python(tmp_path / "bare")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    loaded = load_elsewhere(python, "models:/send-time@champion", tracking_uri=uri, workdir=workdir)
    assert loaded["absent_before"] is True
    output = loaded["output"]
    assert isinstance(output, list)
    np.testing.assert_allclose(output, served, rtol=1e-12)
    _check_requirements_cover_imports(loaded, local)
