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


def test_serve_console_log_format_writes_readable_request_lines(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "OPTIMIZER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "OPTIMIZER_VAR_DIR": str(tmp_path),
        "OPTIMIZER_LOG_FORMAT": "console",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "optimizer.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        response = None
        while time.monotonic() < deadline and response is None:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": "probe-1"}
                )
            except httpx.HTTPError:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.3)
        assert response is not None and response.status_code == 200
        assert response.headers["x-request-id"] == "probe-1"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    lines = [line for line in log.read_text().splitlines() if "probe-1" in line]
    assert len(lines) == 1, log.read_text()
    line = lines[0]
    assert not line.startswith("{")  # console, not JSON
    assert "request" in line and "route=/healthz" in line and "status=200" in line
    # uvicorn's access log is off: the request's own line is the only one.
    assert '"GET /healthz HTTP/1.1"' not in log.read_text()
