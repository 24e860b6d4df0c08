"""``POST /v1/events`` by phone number as well as by lead id, over real HTTP: a number with a
lead is that lead; an opt-out from a number no lead has suppresses the number for every lead
created later; exactly one of lead_id or phone, else 422."""

from __future__ import annotations

import datetime as dt

from tests.api.conftest import LiveServer
from tests.api.helpers import decide, iso, new_lead

TUESDAY_AFTERNOON_NY = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)


def event(key: str, **fields: object) -> dict[str, object]:
    return {
        "idempotency_key": key,
        "type": "inbound",
        "channel": "sms",
        "occurred_at": iso(TUESDAY_AFTERNOON_NY),
        **fields,
    }


def test_a_number_with_a_lead_is_that_lead(live_server: LiveServer) -> None:
    with live_server.client() as client:
        lead = new_lead(client, phone="(305) 555-0170", created_at=TUESDAY_AFTERNOON_NY)
        response = client.post(
            "/v1/events", json={"events": [event("p-1", phone="305 555 0170", text="Yes, call me")]}
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 1, "duplicates": 0, "actions": []}
        timeline = client.get(f"/v1/leads/{lead['id']}/timeline").json()["timeline"]
        assert [e["type"] for e in timeline if e["kind"] == "event"] == ["inbound"]


def test_an_opt_out_from_a_number_with_no_lead_blocks_leads_created_later(
    live_server: LiveServer,
) -> None:
    with live_server.client() as client:
        body = {"events": [event("p-2", phone="+13055550171", channel="webchat", text="STOP")]}
        first = client.post("/v1/events", json=body)
        assert first.status_code == 200, first.text
        assert first.json()["accepted"] == 1
        [action] = first.json()["actions"]
        assert action["type"] == "send_confirmation" and action["lead_id"] is None
        assert action["phone_e164"] == "+13055550171"
        again = client.post("/v1/events", json=body)
        assert again.json()["accepted"] == 0 and again.json()["duplicates"] == 1
        assert again.json()["actions"][0]["text"] == action["text"]
        now = dt.datetime.now(dt.UTC)
        lead = new_lead(client, phone="(305) 555-0171", created_at=now)
        assert decide(client, lead["id"], now + dt.timedelta(minutes=1))["action"] == "suppress"


def test_exactly_one_of_lead_id_or_phone(live_server: LiveServer) -> None:
    with live_server.client() as client:
        lead = new_lead(client, phone="(305) 555-0172", created_at=TUESDAY_AFTERNOON_NY)
        for fields in ({}, {"lead_id": lead["id"], "phone": "+13055550172"}):
            response = client.post(
                "/v1/events", json={"events": [event("p-3", text="hi", **fields)]}
            )
            assert response.status_code == 422, response.text
            assert "exactly one of lead_id or phone" in response.json()["error"]["message"]


def test_other_events_need_a_lead_and_a_bad_number_is_named(live_server: LiveServer) -> None:
    with live_server.client() as client:
        sent = client.post(
            "/v1/events", json={"events": [event("p-4", phone="+13055550173", type="sent")]}
        )
        assert sent.status_code == 422, sent.text
        assert sent.json()["error"]["field"] == "phone"
        assert "no lead" in sent.json()["error"]["message"]
        bad = client.post("/v1/events", json={"events": [event("p-5", phone="12", text="STOP")]})
        assert bad.status_code == 422, bad.text
        assert "'12'" in bad.json()["error"]["message"]
        lookup = client.get("/v1/leads", params={"phone": "not a number"})
        assert lookup.status_code == 422, lookup.text
