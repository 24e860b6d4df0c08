"""Revoking API keys: over HTTP (the serving process drops the key at once) and with the CLI
(`keys list` never prints key material)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.api.conftest import LiveServer

REPO = Path(__file__).resolve().parents[2]


def test_revoked_key_stops_working_at_once_in_the_serving_process(
    live_server: LiveServer,
) -> None:
    assert live_server.settings.key_cache_seconds > 0  # the verification is cached
    with live_server.client("read") as reader:
        assert reader.get("/v1/models").status_code == 200  # verified, now cached
        with live_server.client("admin") as admin:
            listed = admin.get("/v1/keys").json()["keys"]
            (read_key,) = [k for k in listed if k["name"] == "test-read"]
            assert "key_hash" not in read_key and "prefix" not in read_key
            revoked = admin.post(f"/v1/keys/{read_key['id']}/revoke")
            assert revoked.status_code == 200, revoked.text
            assert revoked.json()["revoked_at"] is not None
            assert admin.post("/v1/keys/999999/revoke").status_code == 404
        answer = reader.get("/v1/models")
        assert answer.status_code == 401, answer.text
    with httpx.Client(base_url=live_server.base_url, timeout=10) as anonymous:
        assert anonymous.post("/v1/keys/1/revoke").status_code == 401


def _cli(args: list[str], var_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPTIMIZER_VAR_DIR": str(var_dir)}
    return subprocess.run(
        [sys.executable, "-m", "optimizer.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_keys_list_and_revoke_on_the_command_line(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    first = _cli(["keys", "create", "--scope", "read", "--name", "ops"], var_dir)
    assert first.returncode == 0, first.stderr
    secret = first.stdout.strip()
    _cli(["keys", "create", "--scope", "decide", "--name", "engine"], var_dir)
    listed = _cli(["keys", "list"], var_dir)
    assert listed.returncode == 0, listed.stderr
    assert secret not in listed.stdout and secret.split("_")[1] not in listed.stdout
    payload = json.loads(listed.stdout.strip().splitlines()[-1])
    assert [k["name"] for k in payload["keys"]] == ["ops", "engine"] and payload["active"] == 2
    revoked = _cli(["keys", "revoke", "ops"], var_dir)
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout.strip().splitlines()[-1])["revoked"]["name"] == "ops"
    after = json.loads(_cli(["keys", "list"], var_dir).stdout.strip().splitlines()[-1])
    assert after["active"] == 1
    missing = _cli(["keys", "revoke", "nobody"], var_dir)
    assert missing.returncode == 2 and "nobody" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
