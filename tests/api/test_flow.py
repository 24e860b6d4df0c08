"""The decision service driven over real HTTP: the paths a sequence engine takes."""

from __future__ import annotations

import datetime as dt

from tests.api.conftest import LiveServer
from tests.api.helpers import TEMPLATE, codes, decide, iso, new_lead

# Tuesday 17 Nov 2026, 14:00 in New York (EST, UTC-5).
TUESDAY_AFTERNOON_NY = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)


def test_new_lead_with_consent_inside_hours_gets_send_now(live_server: LiveServer) -> None:
    with live_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0142", created_at=TUESDAY_AFTERNOON_NY)
        decision = decide(client, lead["id"], TUESDAY_AFTERNOON_NY + dt.timedelta(seconds=30))
    assert decision["action"] == "send_now"
    assert decision["compliance"]["allowed"] is True
    assert "speed_to_lead" in codes(decision)
    assert decision["text"].startswith("Acme Dental: hi Ana")
    assert decision["segments"] == 1
    assert decision["timezone"] == "America/New_York"
    assert decision["score"] is not None and 0 <= decision["score"] <= 100
    assert set(decision["model_versions"]) == {"lead-score", "send-time"}


def test_florida_lead_at_2030_local_is_sent_next_morning(live_server: LiveServer) -> None:
    # 20:30 EST in Miami = 01:30 UTC the next day.
    evening = dt.datetime(2026, 11, 18, 1, 30, tzinfo=dt.UTC)
    with live_server.client() as client:
        lead = new_lead(client, phone="(305) 555-0142", created_at=evening - dt.timedelta(days=2))
        decision = decide(client, lead["id"], evening, horizon_hours=16)
    assert decision["action"] == "send_at"
    assert any(c.startswith("quiet_hours.state") for c in codes(decision)), codes(decision)
    send_at = dt.datetime.fromisoformat(decision["send_at"])
    local = dt.datetime.fromisoformat(decision["send_at_local"])
    assert send_at > evening
    assert local.date() == dt.date(2026, 11, 18)
    assert 9 <= local.hour < 20  # house window 9-20 local


def test_stop_texting_me_suppresses_everything_after(live_server: LiveServer) -> None:
    now = TUESDAY_AFTERNOON_NY
    with live_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0188", created_at=now)
        before = decide(client, lead["id"], now)
        assert before["action"] == "send_now"
        inbound = client.post(
            "/v1/events",
            json={
                "events": [
                    {
                        "idempotency_key": "in-1",
                        "lead_id": lead["id"],
                        "type": "inbound",
                        "channel": "sms",
                        "occurred_at": iso(now + dt.timedelta(minutes=1)),
                        "text": "Stop texting me",
                    }
                ]
            },
        )
        assert inbound.status_code == 200, inbound.text
        body = inbound.json()
        assert body["accepted"] == 1
        assert [a["type"] for a in body["actions"]] == ["send_confirmation"]
        assert "Acme Dental" in body["actions"][0]["text"]
        refused = client.post(
            f"/v1/decisions/{before['decision_id']}/confirm",
            json={"as_of": iso(now + dt.timedelta(minutes=2))},
        )
        assert refused.status_code == 200
        assert refused.json()["allowed"] is False
        assert any(r["code"].startswith("suppressed.opt_out") for r in refused.json()["reasons"])
        for hours in (1, 24, 24 * 30):
            later = decide(client, lead["id"], now + dt.timedelta(hours=hours))
            assert later["action"] == "suppress"
            assert any(c.startswith("suppressed.opt_out") for c in codes(later))
        # A second STOP gets no second confirmation.
        again = client.post(
            "/v1/events",
            json={
                "events": [
                    {
                        "idempotency_key": "in-2",
                        "lead_id": lead["id"],
                        "type": "inbound",
                        "channel": "sms",
                        "occurred_at": iso(now + dt.timedelta(minutes=3)),
                        "text": "STOP",
                    }
                ]
            },
        )
        assert again.json()["actions"] == []
        timeline = client.get(f"/v1/leads/{lead['id']}/timeline").json()["timeline"]
        kinds = [entry["kind"] for entry in timeline]
        assert "consent.revoke" in kinds and "suppression.suppress" in kinds


def test_confirm_is_idempotent_and_records_the_send(live_server: LiveServer) -> None:
    now = TUESDAY_AFTERNOON_NY
    with live_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0190", created_at=now)
        decision = decide(client, lead["id"], now)
        first = client.post(
            f"/v1/decisions/{decision['decision_id']}/confirm", json={"as_of": iso(now)}
        )
        second = client.post(
            f"/v1/decisions/{decision['decision_id']}/confirm", json={"as_of": iso(now)}
        )
        assert first.json()["allowed"] is True and first.json()["already_confirmed"] is False
        assert second.json()["allowed"] is True and second.json()["already_confirmed"] is True
        assert first.json()["event_id"] == second.json()["event_id"]
        timeline = client.get(f"/v1/leads/{lead['id']}/timeline").json()["timeline"]
        sent = [e for e in timeline if e["kind"] == "event" and e["type"] == "sent"]
        assert len(sent) == 1 and sent[0]["decision_id"] == decision["decision_id"]
        read_back = client.get(f"/v1/decisions/{decision['decision_id']}").json()
        assert read_back["confirmation"]["allowed"] is True


def test_replayed_event_is_counted_once(live_server: LiveServer) -> None:
    now = TUESDAY_AFTERNOON_NY
    with live_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0191", created_at=now)
        event = {
            "idempotency_key": "click-77",
            "lead_id": lead["id"],
            "type": "click",
            "channel": "sms",
            "occurred_at": iso(now),
        }
        first = client.post("/v1/events", json={"events": [event]}).json()
        second = client.post("/v1/events", json={"events": [event, event]}).json()
        assert (first["accepted"], first["duplicates"]) == (1, 0)
        assert (second["accepted"], second["duplicates"]) == (0, 2)
        timeline = client.get(f"/v1/leads/{lead['id']}/timeline").json()["timeline"]
        assert sum(1 for e in timeline if e["kind"] == "event" and e["type"] == "click") == 1


def test_bandit_learns_from_rewards(live_server: LiveServer) -> None:
    now = TUESDAY_AFTERNOON_NY
    with live_server.client() as client:
        created = client.post(
            "/v1/experiments",
            json={
                "name": "welcome-test",
                "metric": "reply",
                "policy": "thompson",
                "variants": [
                    {"name": "A", "template": TEMPLATE},
                    {
                        "name": "B",
                        "template": "Acme Dental: {first_name}, book today? Reply STOP to opt out.",
                    },
                ],
                "control": "A",
            },
        )
        assert created.status_code == 201, created.text
        experiment = created.json()
        lead = new_lead(client, phone="(212) 555-0192", created_at=now)
        decision = decide(client, lead["id"], now, experiment_id=experiment["id"])
        assert decision["variant_id"] in {v["id"] for v in experiment["variants"]}
        assert 0 < decision["propensity"] <= 1
        confirmed = client.post(
            f"/v1/decisions/{decision['decision_id']}/confirm", json={"as_of": iso(now)}
        )
        assert confirmed.json()["allowed"] is True
        reply = {
            "idempotency_key": "reply-1",
            "lead_id": lead["id"],
            "type": "reply",
            "channel": "sms",
            "occurred_at": iso(now + dt.timedelta(minutes=7)),
            "text": "Yes, Thursday works",
            "decision_id": decision["decision_id"],
        }
        client.post("/v1/events", json={"events": [reply]})
        client.post("/v1/events", json={"events": [reply]})  # replayed: must not count twice
        results = client.get(f"/v1/experiments/{experiment['id']}/results").json()
    arms = {arm["name"]: arm for arm in results["variants"]}
    chosen = next(v["name"] for v in experiment["variants"] if v["id"] == decision["variant_id"])
    assert arms[chosen]["sends"] == 1
    assert arms[chosen]["successes"] == 1
    other = next(name for name in arms if name != chosen)
    assert arms[other]["sends"] == 0
