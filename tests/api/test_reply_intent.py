"""Over real HTTP: opt-outs on every channel with text, the sales hand-off list, DNC failing
closed (and its waiver), and sends made around the gate shown on list health."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from optimizer.settings import Settings
from tests.api.conftest import LiveServer, serve
from tests.api.helpers import TEMPLATE, codes, decide, iso, new_experiment, new_lead

TUESDAY_AFTERNOON_NY = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)
_keys = itertools.count(1)
_phones = itertools.count(100)


def _phone() -> str:
    return f"(212) 555-0{next(_phones):03d}"


def _event(
    lead_id: int, type_: str, channel: str, text: str | None, at: dt.datetime, **extra: Any
) -> dict[str, Any]:
    return {
        "idempotency_key": f"intent-{next(_keys)}",
        "lead_id": lead_id,
        "type": type_,
        "channel": channel,
        "occurred_at": iso(at),
        "text": text,
        **extra,
    }


def _post(client: httpx.Client, *events: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/events", json={"events": list(events)})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("type_", "channel", "text"),
    [
        ("webchat", "webchat", "take me off your list"),
        ("call", "voice", "please stop calling me"),
        ("inbound", "sms", "no more please"),
        ("inbound", "sms", "who is this? I never signed up"),
        ("inbound", "sms", "Pare"),
        ("inbound", "email", "Hi, please remove me from your mailing list. Thanks"),
        ("inbound", "rcs", "STOPPP 🛑"),
    ],
)
def test_an_opt_out_on_any_channel_suppresses_every_later_decision(
    live_server: LiveServer, type_: str, channel: str, text: str
) -> None:
    now = TUESDAY_AFTERNOON_NY
    with live_server.client() as client:
        lead = new_lead(client, phone=_phone(), created_at=now - dt.timedelta(days=1))
        assert decide(client, lead["id"], now)["action"] in ("send_now", "send_at")
        answer = _post(
            client, _event(lead["id"], type_, channel, text, now + dt.timedelta(minutes=1))
        )
        assert [a["type"] for a in answer["actions"]] == ["send_confirmation"]
        for later in (dt.timedelta(minutes=2), dt.timedelta(days=1), dt.timedelta(days=20)):
            decision = decide(client, lead["id"], now + later)
            assert decision["action"] == "suppress", (text, decision["reasons"])
            assert "suppressed.opt_out" in codes(decision)


def test_look_alikes_are_not_opt_outs(live_server: LiveServer) -> None:
    now = TUESDAY_AFTERNOON_NY
    with live_server.client() as client:
        lead = new_lead(client, phone=_phone(), created_at=now - dt.timedelta(days=1))
        answer = _post(
            client,
            _event(lead["id"], "reply", "sms", "Don't stop, I'm interested", now),
            _event(
                lead["id"], "reply", "sms", "what time does the store close? stop by tomorrow?", now
            ),
        )
        assert answer["actions"] == []
        assert decide(client, lead["id"], now + dt.timedelta(hours=1))["action"] != "suppress"


def test_an_interested_reply_puts_the_lead_on_the_handoff_list_and_rewards_its_arm(
    live_server: LiveServer,
) -> None:
    now = TUESDAY_AFTERNOON_NY
    with live_server.client() as client:
        experiment = new_experiment(client, name="handoff", metric="reply")
        keen = new_lead(client, phone=_phone(), created_at=now - dt.timedelta(days=1))
        wrong = new_lead(client, phone=_phone(), created_at=now - dt.timedelta(days=1))
        decisions = {}
        for lead in (keen, wrong):
            decisions[lead["id"]] = decide(client, lead["id"], now, experiment_id=experiment["id"])
            confirmed = client.post(
                f"/v1/decisions/{decisions[lead['id']]['decision_id']}/confirm",
                json={"as_of": iso(now)},
            )
            assert confirmed.json()["allowed"] is True
        _post(
            client,
            _event(
                keen["id"],
                "reply",
                "sms",
                "Yes, can you call me about pricing?",
                now + dt.timedelta(minutes=5),
            ),
            _event(wrong["id"], "reply", "sms", "Wrong number", now + dt.timedelta(minutes=6)),
        )
        handoffs = client.get("/v1/handoffs").json()
        results = client.get(f"/v1/experiments/{experiment['id']}/results").json()
    with httpx.Client(base_url=live_server.base_url, timeout=30) as reader:
        reader.headers["Authorization"] = f"Bearer {live_server.keys['read']}"
        assert reader.get("/v1/handoffs").status_code == 200
        reader.headers["Authorization"] = f"Bearer {live_server.keys['ingest']}"
        assert reader.get("/v1/handoffs").status_code == 403
    assert [h["lead_id"] for h in handoffs["items"]] == [keen["id"]]
    item = handoffs["items"][0]
    assert item["intent"] == "interested"
    assert "text" not in item
    assert handoffs["total"] == 1
    successes = sum(arm["successes"] for arm in results["variants"])
    sends = sum(arm["sends"] for arm in results["variants"])
    assert sends == 2
    assert successes == 1  # the interested reply; the wrong number is no success


def test_the_handoff_page_lists_the_lead(live_server: LiveServer) -> None:
    now = TUESDAY_AFTERNOON_NY
    with live_server.client() as client:
        lead = new_lead(client, phone=_phone(), created_at=now - dt.timedelta(days=1))
        _post(client, _event(lead["id"], "webchat", "webchat", "I'd like to book a cleaning", now))
    with httpx.Client(base_url=live_server.base_url, timeout=30, follow_redirects=True) as browser:
        login = browser.post(
            "/ui/login", data={"key": live_server.keys["read"], "next": "/ui/handoffs"}
        )
        assert login.status_code == 200, login.text
        assert f'href="/ui/leads/{lead["id"]}"' in login.text
        assert "interested" in login.text
        assert "book a cleaning" not in login.text


@pytest.fixture
def bare_server(tmp_path: Path, shared_mlflow_uri: str) -> Iterator[LiveServer]:
    settings = Settings(
        var_dir=tmp_path / "var",
        mlflow_tracking_uri=shared_mlflow_uri,
        simulation=True,
        brand_name="Acme Dental",
        seed=11,
    )
    yield from serve(settings, dnc_registry=False)


@pytest.fixture
def waived_server(tmp_path: Path, shared_mlflow_uri: str) -> Iterator[LiveServer]:
    settings = Settings(
        var_dir=tmp_path / "var",
        mlflow_tracking_uri=shared_mlflow_uri,
        simulation=True,
        brand_name="Acme Dental",
        seed=11,
        dnc_waived=True,
    )
    yield from serve(settings, dnc_registry=False)


def test_no_registry_copy_denies_with_registry_missing(bare_server: LiveServer) -> None:
    now = TUESDAY_AFTERNOON_NY
    with bare_server.client() as client:
        lead = new_lead(client, phone=_phone(), created_at=now - dt.timedelta(days=1))
        decision = decide(client, lead["id"], now)
    assert decision["action"] == "suppress"
    assert "dnc.registry_missing" in codes(decision)
    assert decision["compliance"]["allowed"] is False
    assert "dnc_waived" not in decision["rules_version"]


def test_the_waiver_allows_and_is_recorded_with_the_decision(waived_server: LiveServer) -> None:
    now = TUESDAY_AFTERNOON_NY
    with waived_server.client() as client:
        lead = new_lead(client, phone=_phone(), created_at=now - dt.timedelta(days=1))
        decision = decide(client, lead["id"], now)
        stored = client.get(f"/v1/decisions/{decision['decision_id']}").json()
    assert decision["action"] in ("send_now", "send_at"), decision["reasons"]
    assert decision["rules_version"].endswith("+dnc_waived")
    assert decision["compliance"]["dnc_waived"] is True
    assert stored["rules_version"] == decision["rules_version"]


def test_an_unmanaged_send_is_listed_on_list_health_with_the_gates_reasons(
    live_server: LiveServer,
) -> None:
    now = TUESDAY_AFTERNOON_NY
    with live_server.client() as client:
        lead = new_lead(client, phone=_phone(), created_at=now - dt.timedelta(days=1))
        managed = decide(client, lead["id"], now)
        confirmed = client.post(
            f"/v1/decisions/{managed['decision_id']}/confirm", json={"as_of": iso(now)}
        )
        assert confirmed.json()["allowed"] is True
        _post(
            client,
            _event(lead["id"], "sent", "sms", "Buy now!!!", now + dt.timedelta(hours=2)),
            _event(
                lead["id"],
                "sent",
                "sms",
                TEMPLATE.replace("{first_name}", "Ana"),
                now + dt.timedelta(hours=3),
                decision_id=managed["decision_id"],
            ),
        )
        health = client.get("/v1/reports/health").json()
        # A decision never confirmed clears no send either; a good text then passes the gate.
        other = new_lead(client, phone=_phone(), created_at=now - dt.timedelta(days=1))
        unconfirmed = decide(client, other["id"], now)
        _post(
            client,
            _event(
                other["id"],
                "sent",
                "sms",
                TEMPLATE.replace("{first_name}", "Ana"),
                now + dt.timedelta(minutes=1),
                decision_id=unconfirmed["decision_id"],
            ),
        )
        later = client.get("/v1/reports/health").json()["unmanaged"]
    assert later["sends"] == 2 and later["would_refuse"] == 1
    assert [s["allowed"] for s in later["latest"] if s["lead_id"] == other["id"]] == [True]
    unmanaged = health["unmanaged"]
    assert unmanaged["sends"] == 1
    assert unmanaged["would_refuse"] == 1
    reasons = {r["code"] for r in unmanaged["reasons"]}
    # No brand in the text, and a second text within the house policy's 7 days.
    assert "content.no_brand" in reasons
    assert any(code.startswith("frequency") for code in reasons), reasons
    listed = unmanaged["latest"][0]
    assert listed["lead_id"] == lead["id"] and listed["allowed"] is False
    assert "content.no_brand" in listed["reasons"]
    with httpx.Client(base_url=live_server.base_url, timeout=30, follow_redirects=True) as browser:
        page = browser.post(
            "/ui/login", data={"key": live_server.keys["read"], "next": "/ui/health"}
        )
    assert page.status_code == 200
    assert 'id="unmanaged-sends"' in page.text
    assert "content.no_brand" in page.text
    assert "would refuse" in page.text
