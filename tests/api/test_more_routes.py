"""Batch decisions, experiments' life cycle, models in use, audit and banned dates over HTTP."""

from __future__ import annotations

import datetime as dt

from tests.api.conftest import LiveServer
from tests.api.helpers import TEMPLATE, decide, iso, new_lead

NOW = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)  # Tuesday 14:00 New York


def test_batch_ranks_sendable_leads_and_counts_the_rest(live_server: LiveServer) -> None:
    with live_server.client() as client:
        ok = [
            new_lead(client, phone=f"(212) 555-01{i:02d}", created_at=NOW - dt.timedelta(days=3))
            for i in range(6)
        ]
        no_consent = new_lead(client, phone="(212) 555-0177", created_at=NOW, consent=False)
        response = client.post(
            "/v1/next-best-action/batch",
            json={
                "lead_ids": [lead["id"] for lead in ok] + [no_consent["id"]],
                "capacity": 4,
                "template": TEMPLATE,
                "as_of": iso(NOW),
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        bad = client.post(
            "/v1/next-best-action/batch",
            json={"lead_ids": [999999], "capacity": 1, "template": TEMPLATE},
        )
    assert body["considered"] == 7, body
    assert len(body["selected"]) == 4, body["not_selected"]
    assert len(body["selected"]) == 4
    assert all(d["action"] in ("send_now", "send_at") for d in body["selected"])
    assert all(d["compliance"]["allowed"] for d in body["selected"])
    assert body["not_selected"].get("consent.missing") == 1
    assert body["not_selected"].get("below_capacity") == 2
    assert bad.status_code == 422 and "999999" in bad.json()["error"]["message"]


def test_experiment_life_cycle_and_validation(live_server: LiveServer) -> None:
    variants = [
        {"name": "A", "template": TEMPLATE},
        {"name": "B", "template": TEMPLATE + " Today only."},
    ]
    with live_server.client() as client:
        one_arm = client.post(
            "/v1/experiments", json={"name": "x", "metric": "reply", "variants": variants[:1]}
        )
        unknown_policy = client.post(
            "/v1/experiments",
            json={"name": "y", "metric": "reply", "policy": "magic", "variants": variants},
        )
        created = client.post(
            "/v1/experiments", json={"name": "z", "metric": "click", "variants": variants}
        )
        duplicate = client.post(
            "/v1/experiments", json={"name": "z", "metric": "click", "variants": variants}
        )
        experiment_id = created.json()["id"]
        listed = client.get("/v1/experiments").json()
        stopped = client.post(f"/v1/experiments/{experiment_id}/stop")
        again = client.post(f"/v1/experiments/{experiment_id}/stop")
        lead = new_lead(client, phone="(212) 555-0160", created_at=NOW)
        refused = client.post(
            "/v1/next-best-action",
            json={"lead_id": lead["id"], "experiment_id": experiment_id, "as_of": iso(NOW)},
        )
    assert one_arm.status_code == 422
    assert (
        unknown_policy.status_code == 422 and "magic" in unknown_policy.json()["error"]["message"]
    )
    assert created.status_code == 201 and duplicate.status_code == 409
    assert [e["name"] for e in listed] == ["z"]
    assert stopped.json()["status"] == "stopped" and again.status_code == 409
    assert refused.status_code == 422 and "stopped" in refused.json()["error"]["message"]


def test_template_with_missing_token_is_never_sent_with_a_hole(live_server: LiveServer) -> None:
    with live_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0161", created_at=NOW)
        decision = decide(
            client,
            lead["id"],
            NOW,
            template="Hi {first_name}, your {pet_name} misses you. Reply STOP to opt out.",
        )
    assert decision["action"] == "hold"
    assert decision["text"] is None
    assert any(
        r["code"] == "variant.ineligible" and "pet_name" in r["message"]
        for r in decision["reasons"]
    )


def test_models_in_use_and_readiness(live_server: LiveServer) -> None:
    with live_server.client("read") as client:
        models = client.get("/v1/models").json()["models"]
    assert models["lead-score"] == "baseline:points"
    assert models["send-time"].startswith("send-time:priors")


def test_audit_over_json_and_banned_dates(live_server: LiveServer) -> None:
    rows = [
        {
            "phone": "(305) 555-0142",
            "send_at": "2026-12-01T20:30:00-05:00",
            "message": "Acme Dental: hi. Reply STOP to opt out.",
            "consent_at": "2026-11-01T12:00:00+00:00",
        },
        {
            "phone": "(212) 555-0142",
            "send_at": "2026-12-01T09:30:00-05:00",
            "message": "Acme Dental: hi. Reply STOP to opt out.",
            "consent_at": "2026-11-01T12:00:00+00:00",
        },
        {"phone": "not a phone", "send_at": "2026-12-01T09:30:00-05:00", "message": "x"},
    ]
    with live_server.client("admin") as client:
        audit = client.post(
            "/v1/compliance/audit", json={"rows": rows, "policy": "legal", "brand": "Acme Dental"}
        )
        added = client.post(
            "/v1/compliance/banned-dates",
            json={"state": "NY", "date": "2026-12-01", "reason": "state of emergency"},
        )
        bad_state = client.post(
            "/v1/compliance/banned-dates", json={"state": "ZZ", "date": "2026-12-01", "reason": "x"}
        )
        lead = new_lead(
            client, phone="(212) 555-0162", created_at=dt.datetime(2026, 12, 1, 14, tzinfo=dt.UTC)
        )
        decision = decide(
            client, lead["id"], dt.datetime(2026, 12, 1, 14, 30, tzinfo=dt.UTC), horizon_hours=6
        )
    assert audit.status_code == 200, audit.text
    results = audit.json()["rows"]
    assert results[0]["allowed"] == "false" and "quiet_hours.state" in results[0]["reasons"]
    assert results[1]["allowed"] == "true"
    assert results[2]["allowed"] == "false" and "phone" in results[2]["reasons"]
    assert added.status_code == 201
    assert bad_state.status_code == 422
    assert decision["action"] == "hold"
    assert any(r["code"].startswith("banned_day") for r in decision["reasons"])


def test_same_request_on_same_state_gives_the_same_answer(live_server: LiveServer) -> None:
    variants = [
        {"name": "A", "template": TEMPLATE},
        {"name": "B", "template": "Acme Dental: {first_name}, book today? Reply STOP to opt out."},
        {
            "name": "C",
            "template": "Acme Dental: a cleaning this week, {first_name}? Reply STOP to opt out.",
        },
    ]
    evening = dt.datetime(2026, 11, 18, 2, 0, tzinfo=dt.UTC)  # 21:00 in New York: a later slot
    with live_server.client() as client:
        experiment = client.post(
            "/v1/experiments", json={"name": "repeat", "metric": "reply", "variants": variants}
        ).json()
        lead = new_lead(client, phone="(212) 555-0163", created_at=NOW - dt.timedelta(days=2))
        first = decide(client, lead["id"], evening, experiment_id=experiment["id"])
        second = decide(client, lead["id"], evening, experiment_id=experiment["id"])
    assert first["decision_id"] != second["decision_id"]
    for key in ("action", "variant_id", "send_at", "propensity", "slot_propensity", "text"):
        assert first[key] == second[key], key
