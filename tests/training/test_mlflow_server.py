"""MLflow as a shared service: a real ``mlflow server`` on loopback (SQLite backend, local
artifact store behind it); the CLI trains the bank lead score through it, registers, validates
and promotes it; the service's serving path loads the champion through the server; and
``mlflow models serve -m models:/lead-score@champion --env-manager local`` answers /invocations.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.models import Model

from optimizer.cli import main
from optimizer.models.registry import CHAMPION, client_for, get_alias_version
from optimizer.models.serving import LeadScorer
from optimizer.settings import Settings, get_settings
from tests.mlflow_template import copy_store
from training.datasets import load_csv

MLFLOW = Path(sys.executable).with_name("mlflow")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: the process exited: {log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise AssertionError(f"{url} did not answer in {seconds} s: {log.read_text()[-3000:]}")


@contextlib.contextmanager
def _process(
    args: list[str], *, log: Path, env: dict[str, str], cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
        try:
            yield process
        finally:
            # The server's own workers run in its process group: end the group (ours alone).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(timeout=10)


def _clean_env() -> dict[str, str]:
    """The environment without this project's settings or PYTHONPATH, the environment's ``bin``
    first on PATH (as when it is activated: MLflow starts ``uvicorn`` by name)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPTIMIZER_", "PYTHON"))}
    env["PATH"] = os.pathsep.join([str(MLFLOW.parent), env.get("PATH", "")])
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    return env


@pytest.fixture
def mlflow_server(tmp_path: Path, _mlflow_template: Path) -> Iterator[str]:
    """A running ``mlflow server`` (its store a copy of the session's migrated template)."""
    port = _free_port()
    root = tmp_path / "mlflow-server"
    root.mkdir()
    backend = copy_store(_mlflow_template, root)
    args = [
        str(MLFLOW),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        str(root / "artifacts"),
    ]
    with _process(args, log=root / "server.log", env=_clean_env(), cwd=root) as process:
        url = f"http://127.0.0.1:{port}"
        _wait(f"{url}/health", process, root / "server.log", 90)
        yield url


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert isinstance(out, dict)
    return out


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.timeout(240)
def test_train_register_promote_and_serve_through_an_mlflow_server(
    tmp_path: Path,
    data_dir: Path,
    mlflow_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.perf_counter()
    monkeypatch.setenv("OPTIMIZER_MLFLOW_TRACKING_URI", mlflow_server)
    get_settings.cache_clear()
    settings = Settings(var_dir=tmp_path / "var", mlflow_tracking_uri=mlflow_server)
    bank = data_dir / "bank-additional-full.csv.gz"
    trained = _cli(
        ["train", "lead-score", "--csv", str(bank), "--target", "y", "--drop", "duration"], capsys
    )
    metrics = trained["metrics"]
    assert isinstance(metrics, dict) and metrics["holdout.roc_auc"] > 0.78
    _cli(["models", "validate", "lead-score"], capsys)
    assert _cli(["models", "promote", "lead-score"], capsys)["promoted"] is True

    # Everything went through the server: the run, the registry and the artifacts.
    client = MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(str(trained["run_id"]))
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    champion = get_alias_version("lead-score", CHAMPION, client=client_for(mlflow_server))
    assert champion is not None and champion.version == trained["version"]
    assert not (tmp_path / "var" / "mlartifacts").exists()

    # The service's serving path loads the champion through the server and scores with it.
    data = load_csv(bank, target="y", drop=["duration"])
    scorer = LeadScorer.load(settings, feature_source=data.feature_source)
    assert scorer.version == f"lead-score:{champion.version}" and scorer.note is None
    model_dir = tmp_path / "logged"
    model_dir.mkdir()
    logged = mlflow.artifacts.download_artifacts(
        "models:/lead-score@champion", dst_path=str(model_dir), tracking_uri=mlflow_server
    )
    example = Model.load(logged).load_input_example(logged)
    served = scorer.score(example)
    assert ((served.probability > 0) & (served.probability < 1)).all()

    # `mlflow models serve` from the registry, with this environment's packages (no
    # PYTHONPATH, another working directory).
    port = _free_port()
    env = {**_clean_env(), "MLFLOW_TRACKING_URI": mlflow_server}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    args = [str(MLFLOW), "models", "serve", "-m", "models:/lead-score@champion"]
    args += ["--env-manager", "local", "--host", "127.0.0.1", "-p", str(port)]
    log = tmp_path / "serve.log"
    with _process(args, log=log, env=env, cwd=elsewhere) as process:
        _wait(f"http://127.0.0.1:{port}/ping", process, log, 90)
        body = (Path(logged) / "serving_input_example.json").read_text()
        answer = httpx.post(
            f"http://127.0.0.1:{port}/invocations",
            content=body,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert [row["segment"] for row in predictions] == list(served.segment)
    np.testing.assert_allclose(
        [row["probability"] for row in predictions], served.probability, rtol=1e-9
    )
    with capsys.disabled():
        print(f"\nmlflow server round trip: {time.perf_counter() - started:.1f} s")
