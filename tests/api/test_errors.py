"""Auth, scopes, the simulated clock, and bad input: clear JSON errors, nothing stored."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from tests.api.conftest import LiveServer
from tests.api.helpers import TEMPLATE, iso, new_lead

NOW = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)


def test_healthz_is_open_everything_else_needs_a_key(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.base_url}/healthz").status_code == 200
    missing = httpx.post(f"{live_server.base_url}/v1/leads", json={})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    wrong = httpx.get(
        f"{live_server.base_url}/v1/models", headers={"Authorization": "Bearer sk_nothere_secret"}
    )
    assert wrong.status_code == 401


def test_wrong_scope_is_403(live_server: LiveServer) -> None:
    with live_server.client("read") as client:
        response = client.post("/v1/leads", json={"external_id": "x", "phone": "2125550142"})
    assert response.status_code == 403
    assert "'ingest'" in response.json()["error"]["message"]


def test_invalid_phone_is_422_naming_it(live_server: LiveServer) -> None:
    with live_server.client() as client:
        response = client.post("/v1/leads", json={"external_id": "bad-1", "phone": "555-CALL-NOW"})
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["field"] == "phone"
        assert "'555-CALL-NOW'" in error["message"]
        assert client.get("/v1/leads/1").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"external_id": "u", "phone": "2125550142", "colour": "red"}, "colour"),
        ({"external_id": "u", "phone": "2125550142", "state": "Narnia"}, "state"),
        ({"external_id": "u", "phone": "2125550142", "timezone": "Mars/Olympus"}, "timezone"),
        ({"phone": "2125550142"}, "external_id"),
    ],
)
def test_bad_lead_bodies(live_server: LiveServer, body: dict[str, object], field: str) -> None:
    with live_server.client() as client:
        response = client.post("/v1/leads", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_same_external_id_returns_existing_lead_and_records_change(live_server: LiveServer) -> None:
    with live_server.client() as client:
        first = client.post("/v1/leads", json={"external_id": "dup", "phone": "2125550142"})
        second = client.post(
            "/v1/leads", json={"external_id": "dup", "phone": "2125550142", "state": "NY"}
        )
    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["changed"] == ["state"]


def test_as_of_needs_simulation_mode(live_server: LiveServer) -> None:
    live_server.settings.simulation = False
    try:
        with live_server.client() as client:
            lead = new_lead(client, phone="(212) 555-0150", created_at=NOW)
            response = client.post(
                "/v1/next-best-action",
                json={"lead_id": lead["id"], "template": TEMPLATE, "as_of": iso(NOW)},
            )
    finally:
        live_server.settings.simulation = True
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "as_of"


def test_next_best_action_needs_exactly_one_message_source(live_server: LiveServer) -> None:
    with live_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0151", created_at=NOW)
        neither = client.post("/v1/next-best-action", json={"lead_id": lead["id"]})
        both = client.post(
            "/v1/next-best-action",
            json={"lead_id": lead["id"], "template": TEMPLATE, "experiment_id": 1},
        )
        unknown = client.post("/v1/next-best-action", json={"lead_id": 99999, "template": TEMPLATE})
    assert neither.status_code == 422 and both.status_code == 422
    assert "exactly one of experiment_id or template" in neither.json()["error"]["message"]
    assert unknown.status_code == 404


def test_oversized_body_is_413(live_server: LiveServer) -> None:
    with live_server.client() as client:
        response = client.post(
            "/v1/events",
            content=b'{"events": [' + b" " * (1024 * 1024 + 10) + b"]}",
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_events_batch_with_unknown_lead_writes_nothing(live_server: LiveServer) -> None:
    with live_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0152", created_at=NOW)
        good = {
            "idempotency_key": "ok-1",
            "lead_id": lead["id"],
            "type": "click",
            "channel": "sms",
            "occurred_at": iso(NOW),
        }
        bad = {**good, "idempotency_key": "bad-1", "lead_id": 424242}
        response = client.post("/v1/events", json={"events": [good, bad]})
        assert response.status_code == 422
        assert "424242" in response.json()["error"]["message"]
        replay = client.post("/v1/events", json={"events": [good]}).json()
    assert replay["accepted"] == 1  # the first attempt stored nothing


def test_metrics_and_readyz(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.base_url}/readyz").status_code == 200
    metrics = httpx.get(f"{live_server.base_url}/metrics").text
    assert "optimizer_request_seconds" in metrics
