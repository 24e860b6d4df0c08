"""Hostile and out-of-range input over real HTTP: a 4xx naming the field (never a 500), and
nothing stored."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import LiveServer
from tests.api.helpers import TEMPLATE, iso, new_lead

NOW = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)
TOO_BIG = 2**63  # one past the largest 64-bit row id


def _error(response: httpx.Response, status: int = 422) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]  # type: ignore[no-any-return]


PATH_CASES = [
    (f"/v1/leads/{TOO_BIG}", "path.lead_id"),
    (f"/v1/leads/{TOO_BIG}/timeline", "path.lead_id"),
    (f"/v1/experiments/{TOO_BIG}", "path.experiment_id"),
    (f"/v1/experiments/{TOO_BIG}/results", "path.experiment_id"),
    (f"/v1/reports/experiments/{TOO_BIG}", "path.experiment_id"),
    (f"/v1/reports/leads/{TOO_BIG}", "path.lead_id"),
    ("/v1/leads/0", "path.lead_id"),
    ("/v1/experiments/1/results?seed=-1", "query.seed"),
    (f"/v1/reports/experiments/1?seed={2**64}", "query.seed"),
]


def test_ids_and_seeds_out_of_range_in_the_path_are_422(live_server: LiveServer) -> None:
    with live_server.client() as client:
        for path, field in PATH_CASES:
            assert _error(client.get(path))["field"] == field, path


def test_ids_and_seeds_out_of_range_in_bodies_are_422(live_server: LiveServer) -> None:
    with live_server.client() as client:
        one = client.post("/v1/next-best-action", json={"lead_id": TOO_BIG, "template": TEMPLATE})
        batch = client.post(
            "/v1/next-best-action/batch",
            json={"lead_ids": [1, TOO_BIG], "capacity": 1, "template": TEMPLATE},
        )
        experiment = client.post(
            "/v1/next-best-action", json={"lead_id": 1, "experiment_id": TOO_BIG}
        )
        seed = client.post(
            "/v1/experiments",
            json={
                "name": "seeded",
                "metric": "reply",
                "variants": [{"name": "a", "template": "A"}, {"name": "b", "template": "B"}],
                "seed": 2**70,
            },
        )
        event = client.post(
            "/v1/events",
            json={
                "events": [
                    {
                        "idempotency_key": "big-id",
                        "lead_id": TOO_BIG,
                        "type": "click",
                        "channel": "sms",
                        "occurred_at": iso(NOW),
                    }
                ]
            },
        )
        assert client.get("/v1/experiments").json() == []
    assert _error(one)["field"] == "lead_id"
    assert _error(batch)["field"] == "lead_ids.1"
    assert _error(experiment)["field"] == "experiment_id"
    assert _error(seed)["field"] == "seed"
    assert _error(event)["field"] == "events.0.lead_id"


def test_report_days_outside_the_accepted_range_are_422(live_server: LiveServer) -> None:
    with live_server.client() as client:
        for report in ("health", "segments", "attribution"):
            for field in ("start", "end"):
                for day in ("0001-01-01", "9999-12-31"):
                    error = _error(client.get(f"/v1/reports/{report}", params={field: day}))
                    assert error["field"] == field
                    assert day in error["message"] and "accepted range" in error["message"]


def test_lead_and_consent_times_naive_or_out_of_range_are_422(live_server: LiveServer) -> None:
    with live_server.client() as client:
        naive = client.post(
            "/v1/leads",
            json={"external_id": "t-1", "phone": "2125550170", "created_at": "2026-11-17T19:00"},
        )
        far = client.post(
            "/v1/leads",
            json={"external_id": "t-2", "phone": "2125550171", "created_at": "9999-12-31T00:00Z"},
        )
        assert _error(naive)["field"] == "created_at"
        error = _error(far)
        assert error["field"] == "created_at" and "accepted range" in error["message"]
        lead = new_lead(client, phone="(212) 555-0172", created_at=NOW, consent=False)
        consent = {"method": "web", "brand": "Acme Dental", "disclosure": "Reply STOP to opt out."}
        for granted in ("0001-01-01T00:00:00+00:00", "2026-11-17T18:00:00"):
            response = client.post(
                f"/v1/leads/{lead['id']}/consents", json={**consent, "granted_at": granted}
            )
            assert _error(response)["field"] == "granted_at"
        timeline = client.get(f"/v1/leads/{lead['id']}/timeline").json()["timeline"]
        assert client.get("/v1/leads/2").status_code == 404  # neither t-1 nor t-2 was stored
    assert not [row for row in timeline if "consent" in json.dumps(row)]


def _event_body(lead_id: int, value: str) -> bytes:
    event = (
        f'{{"idempotency_key": "v-{value}", "lead_id": {lead_id}, "type": "conversion", '
        f'"channel": "web", "occurred_at": "{iso(NOW)}", "value": {value}}}'
    )
    return f'{{"events": [{event}]}}'.encode()


def test_event_values_non_finite_or_huge_are_422_and_not_stored(live_server: LiveServer) -> None:
    with live_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0173", created_at=NOW)
        for value in ("NaN", "Infinity", "-Infinity", "1e309", "1e10", "-2e9"):
            response = client.post(
                "/v1/events",
                content=_event_body(lead["id"], value),
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 422, (value, response.text)
            assert response.json()["error"]["field"] == "events.0.value", value
        timeline = client.get(f"/v1/leads/{lead['id']}/timeline").json()["timeline"]
    assert not [row for row in timeline if row.get("type") == "conversion"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e309"])
def test_non_finite_numbers_in_free_form_json_are_422(
    live_server: LiveServer, literal: str
) -> None:
    body = f'{{"external_id": "nan-1", "phone": "2125550174", "attributes": {{"x": {literal}}}}}'
    with live_server.client() as client:
        response = client.post(
            "/v1/leads", content=body.encode(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, response.text
        assert client.get("/v1/leads/1").status_code == 404


def test_phones_with_extensions_or_letters_are_422_naming_the_value(
    live_server: LiveServer,
) -> None:
    with live_server.client() as client:
        for phone in (
            "+1 (305) 555-0142 ext. 9",
            "305-555-0142 x9",
            "305 555 0142#9",
            "305 555 0142;ext=9",
            "1-800-FLOWERS",
            "305-555-CALL",
        ):
            error = _error(client.post("/v1/leads", json={"external_id": "ph", "phone": phone}))
            assert error["field"] == "phone"
            assert repr(phone) in error["message"]
        assert client.get("/v1/leads/1").status_code == 404


def test_ordinary_phone_formats_are_accepted(live_server: LiveServer) -> None:
    with live_server.client() as client:
        for n, phone in enumerate(("(305) 555-0142", "305.555.0142", "+1 305 555 0142")):
            response = client.post("/v1/leads", json={"external_id": f"ok-{n}", "phone": phone})
            assert response.status_code == 201, response.text
            assert response.json()["phone_e164"] == "+13055550142"


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"events": ['
    sent = 0
    while sent < total:
        yield b" " * size
        sent += size
    yield b"]}"


def test_chunked_body_over_one_mib_is_413(live_server: LiveServer) -> None:
    with live_server.client() as client:
        response = client.post(
            "/v1/events",
            content=_chunks(1024 * 1024 + 64 * 1024),
            headers={"content-type": "application/json"},
        )
    assert "content-length" not in response.request.headers  # sent chunked
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert _error(response, 413)["code"] == "payload_too_large"


def test_a_lead_id_no_row_can_have_is_not_found_on_every_lead_route(
    live_server: LiveServer,
) -> None:
    """The service's lookup refuses it too, whatever route validated (or not) the path."""
    with live_server.client() as client:
        response = client.post(
            f"/v1/leads/{TOO_BIG}/revocations", json={"at": iso(NOW), "channel": "sms"}
        )
    assert response.status_code in (404, 422), response.text
    assert response.json()["error"]["field"] in ("lead_id", "path.lead_id")
