"""Twilio's webhooks over real HTTP, signed with Twilio's own RequestValidator: an inbound STOP
from a number no lead has suppresses the number for every lead created later; a bad signature
stores nothing; status callbacks act on carrier errors once per (MessageSid, status)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from optimizer.settings import Settings
from optimizer.store.db import make_engine
from optimizer.store.models import Consent, Event, ProviderMessage, Suppression
from tests.api.conftest import LiveServer, serve
from tests.api.helpers import decide, iso, new_experiment, new_lead

TOKEN = "12345678901234567890123456789012"
ACCOUNT = "AC" + "0" * 32
INBOUND = "/v1/providers/twilio/inbound"
STATUS = "/v1/providers/twilio/status"
TUESDAY_AFTERNOON_NY = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)


@pytest.fixture
def twilio_settings(live_settings: Settings) -> Settings:
    """The test's store (SQLite or PostgreSQL, as every live-server test) with the provider's
    secret set."""
    return live_settings.model_copy(update={"twilio_auth_token": TOKEN})


@pytest.fixture
def server(twilio_settings: Settings) -> Iterator[LiveServer]:
    yield from serve(twilio_settings)


def post_signed(
    server: LiveServer,
    path: str,
    params: dict[str, str],
    *,
    token: str = TOKEN,
    signed_url: str | None = None,
    signature: str | None = None,
) -> httpx.Response:
    url = server.base_url + path
    if signature is None:
        signature = RequestValidator(token).compute_signature(signed_url or url, params)
    return httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)


def inbound(sid: str, sender: str, body: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT,
        "MessagingServiceSid": "MG" + "1" * 32,
        "From": sender,
        "To": "+18005550100",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def status(sid: str, to: str, message_status: str, error: str | None = None) -> dict[str, str]:
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT,
        "MessageStatus": message_status,
        "SmsStatus": message_status,
        "From": "+18005550100",
        "To": to,
        "ApiVersion": "2010-04-01",
    }
    if error is not None:
        params["ErrorCode"] = error
    return params


def counts(settings: Settings) -> dict[str, int]:
    engine = make_engine(settings.resolved_database_url())
    try:
        with engine.connect() as conn:
            return {
                model.__tablename__: int(
                    conn.execute(select(func.count()).select_from(model)).scalar_one()
                )
                for model in (ProviderMessage, Suppression, Consent, Event)
            }
    finally:
        engine.dispose()


def suppressions(settings: Settings) -> list[dict[str, Any]]:
    engine = make_engine(settings.resolved_database_url())
    try:
        with engine.connect() as conn:
            return [
                dict(row._mapping)
                for row in conn.execute(
                    select(
                        Suppression.phone_e164,
                        Suppression.lead_id,
                        Suppression.reason,
                        Suppression.source,
                        Suppression.detail,
                    ).order_by(Suppression.id)
                )
            ]
    finally:
        engine.dispose()


def test_stop_from_a_number_with_no_lead_suppresses_leads_created_later(server: LiveServer) -> None:
    response = post_signed(server, INBOUND, inbound("SM" + "a" * 32, "+13055550142", "STOP"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Acme Dental: you are '
        "unsubscribed and will receive no more messages. Reply START to resubscribe."
        "</Message></Response>"
    )
    stored = suppressions(server.settings)
    assert [(s["phone_e164"], s["lead_id"], s["reason"]) for s in stored] == [
        ("+13055550142", None, "opt_out")
    ]
    now = dt.datetime.now(dt.UTC)
    with server.client() as client:
        lead = new_lead(client, phone="(305) 555-0142", created_at=now)
        decision = decide(client, lead["id"], now + dt.timedelta(minutes=1))
        assert decision["action"] == "suppress"
        assert "suppressed.opt_out" in [r["code"] for r in decision["compliance"]["reasons"]]
        # The lookup by number finds it, however the number is written.
        found = client.get("/v1/leads", params={"phone": "305.555.0142"})
        assert found.status_code == 200, found.text
        assert [x["id"] for x in found.json()["leads"]] == [lead["id"]]


def test_a_repeated_inbound_is_answered_the_same_and_stored_once(server: LiveServer) -> None:
    params = inbound("SM" + "b" * 32, "+13055550143", "stop")
    first = post_signed(server, INBOUND, params)
    second = post_signed(server, INBOUND, params)
    assert first.status_code == second.status_code == 200
    assert first.text == second.text and "<Message>" in first.text
    assert counts(server.settings)["provider_messages"] == 1
    assert len(suppressions(server.settings)) == 1
    # Another STOP (a new message) from the same number gets no second confirmation.
    again = post_signed(server, INBOUND, inbound("SM" + "c" * 32, "+13055550143", "STOP"))
    assert again.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def test_help_is_answered_and_other_text_gets_an_empty_response(server: LiveServer) -> None:
    helped = post_signed(server, INBOUND, inbound("SM" + "d" * 32, "+13055550144", "HELP"))
    assert helped.status_code == 200
    assert "<Message>Acme Dental: for help call 1-800-555-0100" in helped.text
    other = post_signed(server, INBOUND, inbound("SM" + "e" * 32, "+13055550144", "what time?"))
    assert other.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert suppressions(server.settings) == []


def test_an_inbound_from_a_lead_is_its_event(server: LiveServer) -> None:
    with server.client() as client:
        lead = new_lead(client, phone="(305) 555-0145", created_at=TUESDAY_AFTERNOON_NY)
        response = post_signed(
            server, INBOUND, inbound("SM" + "f" * 32, "+13055550145", "Stop texting me")
        )
        assert response.status_code == 200 and "<Message>" in response.text
        timeline = client.get(f"/v1/leads/{lead['id']}/timeline").json()["timeline"]
        events = [e for e in timeline if e["kind"] == "event" and e["type"] == "inbound"]
        assert len(events) == 1
    stored = suppressions(server.settings)
    assert [(s["lead_id"], s["reason"]) for s in stored] == [(lead["id"], "opt_out")]


@pytest.mark.parametrize(
    "signature",
    [None, "", "bm90IGEgc2lnbmF0dXJl", "wrong-token", "other-params", "other-url"],
)
def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(
    server: LiveServer, signature: str | None
) -> None:
    params = inbound("SM" + "1" * 32, "+13055550146", "STOP")
    url = server.base_url + INBOUND
    headers: dict[str, str] = {}
    if signature == "wrong-token":
        headers["X-Twilio-Signature"] = RequestValidator("x" * 32).compute_signature(url, params)
    elif signature == "other-params":
        headers["X-Twilio-Signature"] = RequestValidator(TOKEN).compute_signature(
            url, {**params, "Body": "hello"}
        )
    elif signature == "other-url":
        headers["X-Twilio-Signature"] = RequestValidator(TOKEN).compute_signature(
            url.replace("inbound", "status"), params
        )
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    before = counts(server.settings)
    response = httpx.post(url, data=params, headers=headers, timeout=30)
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden" and "X-Twilio-Signature" in error["message"]
    assert (
        counts(server.settings)
        == before
        == {
            "provider_messages": 0,
            "suppressions": 0,
            "consents": 0,
            "events": 0,
        }
    )


def test_unknown_extra_parameters_still_verify(server: LiveServer) -> None:
    params = inbound(
        "SM" + "2" * 32,
        "+13055550147",
        "STOP",
        FromCity="MIAMI",
        FromState="FL",
        SomeParameterTwilioAddsNextYear="with & odd = characters ü",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/x/Media/y",
    )
    response = post_signed(server, INBOUND, params)
    assert response.status_code == 200, response.text
    assert "<Message>" in response.text


def test_the_public_base_url_is_the_url_verified(tmp_path: Path, shared_mlflow_uri: str) -> None:
    settings = Settings(
        var_dir=tmp_path / "var",
        mlflow_tracking_uri=shared_mlflow_uri,
        brand_name="Acme Dental",
        twilio_auth_token=TOKEN,
        public_base_url="https://sms.example.com/",
    )
    for live in serve(settings):
        params = inbound("SM" + "3" * 32, "+13055550148", "STOP")
        public = "https://sms.example.com" + INBOUND
        assert post_signed(live, INBOUND, params, signed_url=public).status_code == 200
        # Signed over the server's own URL: not what the provider would sign here.
        refused = post_signed(live, INBOUND, inbound("SM" + "4" * 32, "+13055550148", "STOP"))
        assert refused.status_code == 403


def test_no_auth_token_refuses_every_twilio_webhook(live_server: LiveServer) -> None:
    response = post_signed(live_server, INBOUND, inbound("SM" + "5" * 32, "+13055550149", "STOP"))
    assert response.status_code == 403
    assert "OPTIMIZER_TWILIO_AUTH_TOKEN" in response.json()["error"]["message"]
    assert counts(live_server.settings)["suppressions"] == 0


def test_error_21610_suppresses_the_number_once_per_callback(server: LiveServer) -> None:
    now = dt.datetime.now(dt.UTC)
    with server.client() as client:
        lead = new_lead(client, phone="(305) 555-0150", created_at=now)
        params = status("SM" + "6" * 32, "+13055550150", "undelivered", "21610")
        first = post_signed(server, STATUS, params)
        second = post_signed(server, STATUS, params)
        assert first.status_code == second.status_code == 200, first.text
        assert first.json()["accepted"] == 1 and first.json()["duplicates"] == 0
        assert second.json()["accepted"] == 0 and second.json()["duplicates"] == 1
        assert first.json()["statuses"][0]["action"] == "carrier_stop"
        stored = suppressions(server.settings)
        assert [(s["phone_e164"], s["lead_id"], s["reason"], s["detail"]) for s in stored] == [
            ("+13055550150", lead["id"], "carrier_stop", "twilio error 21610")
        ]
        assert counts(server.settings)["provider_messages"] == 1
        assert decide(client, lead["id"], now + dt.timedelta(minutes=1))["action"] == "suppress"


@pytest.mark.parametrize("code", ["30003", "30005", "30006"])
def test_unreachable_numbers_are_marked_not_textable(server: LiveServer, code: str) -> None:
    response = post_signed(
        server, STATUS, status("SM" + code * 6 + "ab", "+13055550151", "failed", code)
    )
    assert response.status_code == 200
    stored = suppressions(server.settings)
    assert [(s["reason"], s["detail"]) for s in stored] == [("unreachable", f"twilio error {code}")]


def test_a_delivered_callback_changes_nothing_but_is_stored(server: LiveServer) -> None:
    for message_status in ("queued", "sent", "delivered", "delivered"):
        response = post_signed(
            server, STATUS, status("SM" + "7" * 32, "+13055550152", message_status)
        )
        assert response.status_code == 200
    assert counts(server.settings)["provider_messages"] == 3
    assert suppressions(server.settings) == []


def test_a_confirmed_decision_links_its_callbacks_and_30007_flags_its_variant(
    server: LiveServer,
) -> None:
    now = TUESDAY_AFTERNOON_NY
    sid = "SM" + "8" * 32
    with server.client() as client:
        experiment = new_experiment(client, name="providers-flag", metric="reply")
        lead = new_lead(client, phone="(212) 555-0191", created_at=now)
        decision = decide(client, lead["id"], now, experiment_id=experiment["id"])
        assert decision["action"] == "send_now", decision
        path = f"/v1/decisions/{decision['decision_id']}/confirm"
        confirmed = client.post(path, json={"as_of": iso(now)})
        assert confirmed.json()["allowed"] is True
        linked = client.post(path, json={"as_of": iso(now), "provider_message_id": sid})
        assert linked.status_code == 200, linked.text
        assert linked.json()["already_confirmed"] is True
        assert linked.json()["provider_message_id"] == sid
        clash = client.post(path, json={"provider_message_id": "SM" + "9" * 32})
        assert clash.status_code == 409, clash.text
        response = post_signed(server, STATUS, status(sid, "+12125550191", "undelivered", "30007"))
        assert response.status_code == 200
        assert response.json()["statuses"][0] == {
            "status": "undelivered",
            "decision_id": decision["decision_id"],
            "lead_id": lead["id"],
            "action": "content_flag",
            "duplicate": False,
        }
        results = client.get(f"/v1/experiments/{experiment['id']}/results").json()
        by_name = {v["name"]: v for v in results["variants"]}
        chosen = by_name[decision["variant_name"]]
        assert chosen["content_flags"] == 1
        assert chosen["delivery"] == {"receipts": 1, "delivered": 0, "failed": 1,
                                      "delivery_rate": 0.0, "error_codes": {"30007": 1}}  # fmt: skip
        other = next(v for name, v in by_name.items() if name != decision["variant_name"])
        assert other["content_flags"] == 0
        # List health: delivery rate per variant and the count per carrier error.
        health = client.get(
            "/v1/reports/health",
            params={"start": now.date().isoformat(), "end": dt.date.today().isoformat()},
        )
        assert health.status_code == 200, health.text
        delivery = health.json()["delivery"]
        assert delivery["receipts"] == 1 and delivery["delivered"] == 0
        assert delivery["delivery_rate"] == 0.0
        assert delivery["carrier_errors"] == {"twilio:30007": 1}
        assert delivery["variants"] == [
            {
                "experiment_id": experiment["id"],
                "variant_id": chosen["variant_id"],
                "variant": decision["variant_name"],
                "receipts": 1,
                "delivered": 0,
                "delivery_rate": 0.0,
                "content_flags": 1,
            }
        ]
        page = client.get(
            "/ui/health",
            params={"start": now.date().isoformat(), "end": dt.date.today().isoformat()},
            headers={"Accept": "text/html"},
        )
        assert page.status_code == 200, page.text[:300]
        assert 'id="delivery-variants"' in page.text and "twilio:30007" in page.text
        report = client.get(f"/v1/reports/experiments/{experiment['id']}").json()
        row = next(v for v in report["variants"] if v["name"] == decision["variant_name"])
        assert (row["receipts"], row["delivery_rate"], row["content_flags"]) == (1, 0.0, 1)
        page = client.get(f"/ui/experiments/{experiment['id']}", headers={"Accept": "text/html"})
        assert page.status_code == 200 and 'id="delivery"' in page.text
    # Filtering is about the content, not the number: nothing is suppressed.
    assert suppressions(server.settings) == []


def test_the_same_inbound_delivered_at_once_is_stored_once(server: LiveServer) -> None:
    params = inbound("SM" + "c" * 31 + "d", "+13055550153", "STOP")
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: post_signed(server, INBOUND, params), range(6)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1 and "<Message>" in answers[0].text
    assert counts(server.settings)["provider_messages"] == 1
    assert len(suppressions(server.settings)) == 1
