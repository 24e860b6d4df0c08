"""An unexpected exception: 500 with the JSON error body and a request id, one log line naming
the request id, the route and the exception's type, and no phone number or traceback anywhere
in the server's output."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_read_session
from optimizer.settings import Settings
from tests.api.conftest import free_port, make_keys

PHONE = "+13055550142"
TEXT = "call me at 305 555 0142 after six"


async def _failing_session() -> Iterator[Session]:
    raise RuntimeError(f"lead {PHONE} wrote {TEXT!r}")


@pytest.fixture
def failing_server(live_settings: Settings) -> Iterator[tuple[str, str]]:
    keys = make_keys(live_settings)
    app = create_app(live_settings)
    app.dependency_overrides[get_read_session] = _failing_session
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():  # pragma: no cover
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", keys["admin"]
    server.should_exit = True
    thread.join(timeout=30)


def test_unexpected_exception_is_a_json_500_with_a_request_id_and_one_masked_log_line(
    failing_server: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    base_url, key = failing_server
    caplog.set_level(logging.INFO)
    response = httpx.get(f"{base_url}/v1/leads/1", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 500
    error = response.json()["error"]
    request_id = error["request_id"]
    assert error["code"] == "internal_error"
    assert request_id in error["message"]
    assert response.headers["x-request-id"] == request_id
    lines = [r for r in caplog.records if request_id in r.getMessage()]
    assert len(lines) == 1
    line = lines[0].getMessage()
    assert "/v1/leads/{lead_id}" in line and "RuntimeError" in line
    out, err = capfd.readouterr()
    everything = caplog.text + out + err
    for secret in (PHONE, "3055550142", "305 555 0142", "after six"):
        assert secret not in everything
    assert "Traceback" not in everything
