"""An opt-out always wins, whatever its timestamp says; retries answer the same; an outcome
moves only its own lead's decision; times outside the accepted range are refused with 422."""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from experiments.reliability_race import daytime_area_codes, phone_numbers
from optimizer.settings import Settings
from tests.api.conftest import LiveServer, serve
from tests.api.helpers import TEMPLATE, codes, decide, iso, new_experiment, new_lead

TUESDAY_AFTERNOON_NY = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)


@pytest.fixture
def real_clock_settings(tmp_path: Path, shared_mlflow_uri: str, live_database: str) -> Settings:
    """The server's own clock (no simulation): as_of refused, times checked against it."""
    return Settings(
        var_dir=tmp_path / "var",
        database_url=live_database,
        mlflow_tracking_uri=shared_mlflow_uri,
        simulation=False,
        brand_name="Acme Dental",
        policy="legal",
    )


@pytest.fixture
def real_server(real_clock_settings: Settings) -> Iterator[LiveServer]:
    yield from serve(real_clock_settings)


def _daytime_phone(seed: int) -> tuple[dt.datetime, str]:
    now = dt.datetime.now(dt.UTC)
    areas = daytime_area_codes(now)
    if not areas:
        pytest.skip(f"no US area code in daytime at {now:%H:%M} UTC: the gate allows no text")
    return now, phone_numbers(areas[0], 1, random.Random(seed))[0]


def _stop(lead_id: int, at: dt.datetime | str, key: str, text: str = "STOP") -> dict[str, object]:
    return {
        "idempotency_key": key,
        "lead_id": lead_id,
        "type": "inbound",
        "channel": "sms",
        "occurred_at": at if isinstance(at, str) else iso(at),
        "text": text,
    }


def _sendable_decision(client: httpx.Client, lead_id: int) -> dict[str, object]:
    answer = client.post("/v1/next-best-action", json={"lead_id": lead_id, "template": TEMPLATE})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["action"] in ("send_now", "send_at"), body["reasons"]
    return body  # type: ignore[no-any-return]


def test_a_stop_dated_ahead_takes_effect_at_once(real_server: LiveServer) -> None:
    now, phone = _daytime_phone(1)
    with real_server.client() as client:
        lead = new_lead(client, phone=phone, created_at=now - dt.timedelta(minutes=2))
        before = _sendable_decision(client, lead["id"])
        posted = client.post(
            "/v1/events",
            json={"events": [_stop(lead["id"], now + dt.timedelta(minutes=10), "ahead-1")]},
        )
        assert posted.status_code == 200, posted.text
        assert [a["type"] for a in posted.json()["actions"]] == ["send_confirmation"]
        after = client.post(
            "/v1/next-best-action", json={"lead_id": lead["id"], "template": TEMPLATE}
        ).json()
        confirm = client.post(f"/v1/decisions/{before['decision_id']}/confirm").json()
    assert after["action"] == "suppress"
    assert any(c.startswith("suppressed") or c.startswith("consent") for c in codes(after))
    assert confirm["allowed"] is False


def test_a_stop_dated_far_ahead_or_long_ago_is_stored_as_now(real_server: LiveServer) -> None:
    with real_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0142", created_at=dt.datetime.now(dt.UTC))
        for key, when in (
            ("far-1", "9999-12-31T23:59:59+00:00"),
            ("old-1", "0001-01-01T00:00:00+00:00"),
        ):
            posted = client.post("/v1/events", json={"events": [_stop(lead["id"], when, key)]})
            assert posted.status_code == 200, posted.text
        timeline = client.get(f"/v1/leads/{lead['id']}/timeline").json()["timeline"]
        reports = client.get("/v1/reports/health")
    inbound = [e for e in timeline if e["kind"] == "event" and e["type"] == "inbound"]
    assert len(inbound) == 2
    for event in inbound:
        at = dt.datetime.fromisoformat(event["at"])
        assert abs((at - dt.datetime.now(dt.UTC)).total_seconds()) < 120
    assert reports.status_code == 200, reports.text


def test_a_revocation_dated_ahead_is_enforced_now(real_server: LiveServer) -> None:
    now, phone = _daytime_phone(2)
    with real_server.client() as client:
        lead = new_lead(client, phone=phone, created_at=now - dt.timedelta(minutes=2))
        before = _sendable_decision(client, lead["id"])
        revoked = client.post(
            f"/v1/leads/{lead['id']}/revocations",
            json={
                "at": iso(now + dt.timedelta(hours=2)),
                "channel": "email",
                "text": "unsubscribe",
            },
        )
        assert revoked.status_code == 201, revoked.text
        assert revoked.json()["suppressed"] is True
        after = client.post(
            "/v1/next-best-action", json={"lead_id": lead["id"], "template": TEMPLATE}
        ).json()
        confirm = client.post(f"/v1/decisions/{before['decision_id']}/confirm").json()
    assert after["action"] == "suppress"
    assert confirm["allowed"] is False


@pytest.mark.parametrize(
    "when",
    ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00", "1999-12-31T23:59:59+00:00"],
)
def test_an_event_outside_the_accepted_range_is_refused(real_server: LiveServer, when: str) -> None:
    with real_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0143", created_at=dt.datetime.now(dt.UTC))
        click = {
            "idempotency_key": f"click-{when}",
            "lead_id": lead["id"],
            "type": "click",
            "channel": "sms",
            "occurred_at": when,
        }
        answer = client.post("/v1/events", json={"events": [click]})
        timeline = client.get(f"/v1/leads/{lead['id']}/timeline").json()["timeline"]
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == "occurred_at"
    assert "accepted range" in error["message"] and when[:10] in error["message"]
    assert not [e for e in timeline if e["kind"] == "event" and e["type"] == "click"]


def test_an_event_ten_minutes_ahead_is_refused_but_within_skew_accepted(
    real_server: LiveServer,
) -> None:
    now = dt.datetime.now(dt.UTC)
    with real_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0144", created_at=now)
        ahead = {
            "idempotency_key": "c-ahead",
            "lead_id": lead["id"],
            "type": "click",
            "channel": "sms",
            "occurred_at": iso(now + dt.timedelta(minutes=10)),
        }
        skew = {
            **ahead,
            "idempotency_key": "c-skew",
            "occurred_at": iso(now + dt.timedelta(minutes=1)),
        }
        refused = client.post("/v1/events", json={"events": [ahead]})
        accepted = client.post("/v1/events", json={"events": [skew]})
    assert refused.status_code == 422
    assert accepted.status_code == 200 and accepted.json()["accepted"] == 1


def test_a_naive_revocation_is_422_and_the_log_holds_no_phone(
    real_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    with real_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0145", created_at=dt.datetime.now(dt.UTC))
        with caplog.at_level(logging.DEBUG):
            answer = client.post(
                f"/v1/leads/{lead['id']}/revocations",
                json={"at": "2026-11-30T10:00:00", "channel": "sms"},
            )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "at"
    assert "5550145" not in caplog.text and "555-0145" not in caplog.text


def test_a_replayed_stop_answers_its_confirmation_again(live_server: LiveServer) -> None:
    now = TUESDAY_AFTERNOON_NY
    with live_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0146", created_at=now)
        stop = _stop(lead["id"], now + dt.timedelta(minutes=1), "stop-replay")
        first = client.post("/v1/events", json={"events": [stop]}).json()
        retry = client.post("/v1/events", json={"events": [stop]}).json()
        again = client.post(
            "/v1/events", json={"events": [{**stop, "idempotency_key": "stop-second"}]}
        ).json()
    assert [a["type"] for a in first["actions"]] == ["send_confirmation"]
    assert (retry["accepted"], retry["duplicates"]) == (0, 1)
    assert retry["actions"] == first["actions"]
    assert again["actions"] == []  # a second STOP earns no second confirmation


def test_an_outcome_naming_another_leads_decision_is_refused(live_server: LiveServer) -> None:
    now = TUESDAY_AFTERNOON_NY
    with live_server.client() as client:
        experiment = new_experiment(client, name="own-lead", metric="conversion")
        lead_a = new_lead(client, phone="(212) 555-0147", created_at=now)
        lead_b = new_lead(client, phone="(212) 555-0148", created_at=now)
        decision = decide(client, lead_a["id"], now, experiment_id=experiment["id"])
        client.post(f"/v1/decisions/{decision['decision_id']}/confirm", json={"as_of": iso(now)})
        before = client.get(f"/v1/experiments/{experiment['id']}/results").json()
        purchase = {
            "idempotency_key": "p-1",
            "lead_id": lead_b["id"],
            "type": "purchase",
            "channel": "email",
            "occurred_at": iso(now + dt.timedelta(hours=1)),
            "value": 100.0,
            "decision_id": decision["decision_id"],
        }
        answer = client.post("/v1/events", json={"events": [purchase]})
        unknown = client.post(
            "/v1/events",
            json={"events": [{**purchase, "idempotency_key": "p-2", "decision_id": "nope"}]},
        )
        after = client.get(f"/v1/experiments/{experiment['id']}/results").json()
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "decision_id"
    assert unknown.status_code == 422
    assert after["variants"] == before["variants"]


def test_the_same_events_from_twenty_clients_are_stored_once(live_server: LiveServer) -> None:
    now = TUESDAY_AFTERNOON_NY
    with live_server.client() as client:
        experiment = new_experiment(client, name="replay", metric="reply")
        leads = [new_lead(client, phone=f"(212) 555-01{60 + i}", created_at=now) for i in range(5)]
        decisions = [
            decide(client, lead["id"], now, experiment_id=experiment["id"]) for lead in leads
        ]
        for decision in decisions:
            confirmed = client.post(
                f"/v1/decisions/{decision['decision_id']}/confirm", json={"as_of": iso(now)}
            )
            assert confirmed.json()["allowed"] is True
    events = [
        {
            "idempotency_key": f"reply-{d['decision_id']}",
            "lead_id": d["lead_id"],
            "type": "reply",
            "channel": "sms",
            "occurred_at": iso(now + dt.timedelta(minutes=5)),
            "text": "Yes please",
            "decision_id": d["decision_id"],
        }
        for d in decisions
    ]

    def post(_: int) -> int:
        with live_server.client() as c:
            return c.post("/v1/events", json={"events": events}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(post, range(20)))
    with live_server.client() as client:
        results = client.get(f"/v1/experiments/{experiment['id']}/results").json()
        stored = sum(
            1
            for lead in leads
            for e in client.get(f"/v1/leads/{lead['id']}/timeline").json()["timeline"]
            if e["kind"] == "event" and e["type"] == "reply"
        )
    assert statuses == [200] * 20
    assert stored == 5
    totals = [(arm["sends"], arm["successes"]) for arm in results["variants"]]
    assert (sum(t[0] for t in totals), sum(t[1] for t in totals)) == (5, 5)
