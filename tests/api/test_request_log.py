"""One JSON log line per request over real HTTP, with the request id echoed in X-Request-ID,
and no phone number or message text anywhere in the server's log."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from optimizer.logs import install, mask_text
from optimizer.settings import Settings
from tests.api.conftest import free_port, make_keys
from tests.api.helpers import DISCLOSURE, TEMPLATE, iso

NOW = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)  # Tuesday 14:00 in New York
PHONE = "(305) 555-0142"
REPLY = "please call me at 305 555 0199 after six, my gate code is 4417"
SECRETS = (
    "5550142",
    "555-0142",
    "555 0142",
    "5550199",
    "555 0199",
    "after six",
    "gate code",
    "kaboom",
)


@dataclass
class LoggedServer:
    base_url: str
    keys: dict[str, str]
    output: io.StringIO

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output.getvalue().splitlines() if line]


@pytest.fixture
def logged_server(live_settings: Settings) -> Iterator[LoggedServer]:
    keys = make_keys(live_settings)
    app = create_app(live_settings)

    async def explode() -> None:
        raise RuntimeError(f"kaboom for {PHONE}: {REPLY}")

    app.add_api_route("/v1/test/explode/{lead_id}", explode, methods=["GET"])
    output = io.StringIO()
    handler = install("json", logging.INFO, stream=output)
    root = logging.getLogger()
    level = root.level
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():  # pragma: no cover
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield LoggedServer(f"http://127.0.0.1:{port}", keys, output)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        root.removeHandler(handler)
        root.setLevel(level)


def test_one_json_line_per_request_with_its_id_and_no_phone_or_text(
    logged_server: LoggedServer,
) -> None:
    base = logged_server.base_url
    keys = logged_server.keys

    def auth(scope: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[scope]}", **extra}

    sent: list[tuple[str, httpx.Response]] = []  # (route template, response)
    with httpx.Client(base_url=base, timeout=30) as client:
        created = client.post(
            "/v1/leads",
            json={
                "external_id": "log-1",
                "phone": PHONE,
                "attributes": {"first_name": "Ana"},
                "created_at": iso(NOW - dt.timedelta(minutes=1)),
            },
            headers=auth("ingest", **{"X-Request-ID": "client-req.0001"}),
        )
        assert created.status_code == 201, created.text
        lead_id = created.json()["id"]
        sent.append(("/v1/leads", created))
        consent = client.post(
            f"/v1/leads/{lead_id}/consents",
            json={
                "granted_at": iso(NOW - dt.timedelta(minutes=2)),
                "method": "web",
                "brand": "Acme Dental",
                "disclosure": DISCLOSURE,
            },
            headers=auth("ingest"),
        )
        assert consent.status_code == 201, consent.text
        sent.append(("/v1/leads/{lead_id}/consents", consent))
        decision = client.post(
            "/v1/next-best-action",
            json={"lead_id": lead_id, "as_of": iso(NOW), "template": TEMPLATE},
            headers=auth("decide"),
        )
        assert decision.status_code == 200, decision.text
        decision_id = decision.json()["decision_id"]
        sent.append(("/v1/next-best-action", decision))
        event = client.post(
            "/v1/events",
            json={
                "events": [
                    {
                        "idempotency_key": "log-reply-1",
                        "lead_id": lead_id,
                        "type": "inbound",
                        "channel": "sms",
                        "occurred_at": iso(NOW + dt.timedelta(minutes=3)),
                        "text": REPLY,
                    }
                ]
            },
            headers=auth("ingest"),
        )
        assert event.status_code == 200, event.text
        sent.append(("/v1/events", event))
        # A 422 whose body echoes the phone back to the caller (never to the log).
        invalid = client.post(
            "/v1/leads",
            json={"external_id": "log-2", "phone": "305 555 0142 ext", "created_at": iso(NOW)},
            headers=auth("ingest"),
        )
        assert invalid.status_code == 422, invalid.text
        sent.append(("/v1/leads", invalid))
        missing = client.get("/v1/decisions/no-such-decision", headers=auth("read"))
        assert missing.status_code == 404, missing.text
        sent.append(("/v1/decisions/{decision_id}", missing))
        unauthorised = client.get(f"/v1/leads/{lead_id}")
        assert unauthorised.status_code == 401
        sent.append(("/v1/leads/{lead_id}", unauthorised))
        # A request id that is a phone number is not taken (nor logged): a new one is made.
        failed = client.get(
            f"/v1/test/explode/{lead_id}", headers=auth("read", **{"X-Request-ID": "+13055550142"})
        )
        assert failed.status_code == 500
        sent.append(("/v1/test/explode/{lead_id}", failed))
        unmatched = client.get("/v1/no-such-route/3055550142")
        assert unmatched.status_code == 404
        sent.append(("", unmatched))

    # Every response, errors included, carries its request id; the caller's when sane.
    ids = [response.headers["x-request-id"] for _, response in sent]
    assert ids[0] == "client-req.0001"
    assert len(set(ids)) == len(ids)
    assert failed.headers["x-request-id"] != "+13055550142"
    assert failed.json()["error"]["request_id"] == failed.headers["x-request-id"]

    deadline = time.monotonic() + 5  # the line is written once the response is sent
    while len([x for x in logged_server.lines() if x.get("event") == "request"]) < len(sent):
        assert time.monotonic() < deadline, logged_server.output.getvalue()
        time.sleep(0.05)
    lines = logged_server.lines()  # every line of the output is one JSON object
    requests = [x for x in lines if x.get("event") == "request"]
    assert len(requests) == len(sent)
    by_id = {x["request_id"]: x for x in requests}
    assert set(by_id) == set(ids)
    for (route, response), request_id in zip(sent, ids, strict=True):
        line = by_id[request_id]
        assert line["status"] == response.status_code
        assert line["method"] == response.request.method
        assert line["route"] == (route or None)
        assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0
        assert line["level"] == ("error" if response.status_code >= 500 else "info")
        assert line["timestamp"].endswith("Z")
    assert by_id[ids[0]]["lead_id"] == lead_id
    assert by_id[ids[1]]["lead_id"] == lead_id
    assert by_id[ids[2]]["lead_id"] == lead_id
    assert by_id[ids[2]]["decision_id"] == decision_id
    assert by_id[ids[3]]["lead_id"] == lead_id and by_id[ids[3]]["events"] == 1
    assert by_id[ids[5]]["decision_id"] == "no-such-decision"
    crash = by_id[ids[7]]
    assert crash["error"] == "RuntimeError"
    assert crash["error_at"].startswith("tests/") or "test_request_log.py" in crash["error_at"]
    assert by_id[ids[8]]["path"] == "/v1/no-such-route/##########"

    text = logged_server.output.getvalue()
    for secret in SECRETS:
        assert secret not in text, secret
    assert "Traceback" not in text


def test_the_mask_keeps_the_last_two_digits_and_leaves_ids_and_times_alone() -> None:
    assert mask_text("lead +13055550142 wrote") == "lead ***42 wrote"
    assert mask_text("(305) 555-0142 / 305.555.0199") == "***42 / ***99"
    assert mask_text("+442079460958") == "***58"
    for kept in (
        "2026-11-30 10:00:00",
        "2026-11-30T10:00:00.123Z",
        "3f2a0c1e-1b2c-4d5e-8f90-123456789012",
        "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "latency 12.345",
        "client-req.0001",
    ):
        assert mask_text(kept) == kept
