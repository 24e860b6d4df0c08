"""Start-up with many processes on a fresh store, and decisions when a model cannot load."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from optimizer.models.mlflow_store import ensure_store, forget
from optimizer.store.db import make_engine
from tests.dnc_copies import import_test_registry

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OPTIMIZER_VAR_DIR": str(var_dir),
        "OPTIMIZER_SIMULATION": "true",
        "OPTIMIZER_BRAND_NAME": "Acme Dental",
    }


def _wait_ready(port: int, proc: subprocess.Popen[bytes], seconds: float = 90) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            if response.status_code == 200:
                return dict(response.json())
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"server on {port} exited {proc.returncode}: {err[-2000:]}")
        time.sleep(0.3)
    raise AssertionError(f"server on {port} not ready within {seconds} s")


@pytest.mark.slow
def test_two_servers_started_at_once_on_a_fresh_store(tmp_path: Path) -> None:
    from tests.api.helpers import decide, new_lead

    var_dir = tmp_path / "var"
    ports = [_free_port(), _free_port()]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "optimizer.cli",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=_env(var_dir),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        for port, proc in zip(ports, procs, strict=True):
            body = _wait_ready(port, proc)
            assert body["status"] == "ready", body
        created = subprocess.run(
            [sys.executable, "-m", "optimizer.cli", "keys", "create", "--scope", "admin"],
            env=_env(var_dir),
            capture_output=True,
            text=True,
            check=True,
        )
        key = created.stdout.strip().splitlines()[0]
        # The operator's DNC registry copies (without one the gate denies every send).
        registry_store = make_engine(f"sqlite:///{(var_dir / 'optimizer.db').as_posix()}")
        import_test_registry(registry_store)
        registry_store.dispose()
        now = dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC)  # a Tuesday, 10:00 in New York
        for i, port in enumerate(ports):
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            ) as client:
                lead = new_lead(client, phone=f"+1305555014{i}", created_at=now)
                decision = decide(client, lead["id"], now + dt.timedelta(minutes=1))
                assert decision["action"] in ("send_now", "send_at", "hold"), decision
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def _prepare(uri: str, start_at: float) -> None:
    while time.time() < start_at:
        time.sleep(0.001)
    ensure_store(uri)


def test_two_processes_prepare_one_fresh_mlflow_store_at_once(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0
    procs = [context.Process(target=_prepare, args=(uri, start_at)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0]
    forget(uri)
    ensure_store(uri)  # the store both made is whole: this process opens it too
    from mlflow import MlflowClient

    assert MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models() == []
