"""`optimizer serve` starts the real server and /healthz reports the database and schema."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from optimizer.store.db import head_revision


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_and_healthz(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "OPTIMIZER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "optimizer"),
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                body = response.json()
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                time.sleep(0.3)
        assert body is not None, "server did not answer /healthz within 60 s"
        assert response.status_code == 200
        assert body["status"] == "ok"
        assert body["database"]["backend"] == "sqlite"
        assert body["database"]["schema_revision"] == head_revision()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
