"""Telnyx's webhooks over real HTTP, signed with an Ed25519 key pair the test generates: a
"Pare" received suppresses the number; a stale or future timestamp and a bad signature are
refused with 403 and store nothing; delivery receipts act on carrier errors once each."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from optimizer.settings import Settings
from tests.api.conftest import LiveServer, serve
from tests.api.helpers import decide, new_lead
from tests.api.test_providers_twilio import counts, suppressions

WEBHOOK = "/v1/providers/telnyx/webhook"
KEY = Ed25519PrivateKey.generate()
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
OTHER_KEY = Ed25519PrivateKey.generate()
NOTHING = {"provider_messages": 0, "suppressions": 0, "consents": 0, "events": 0}


@pytest.fixture
def telnyx_settings(live_settings: Settings) -> Settings:
    """The test's store (SQLite or PostgreSQL, as every live-server test) with the provider's
    secret set."""
    return live_settings.model_copy(update={"telnyx_public_key": PUBLIC})


@pytest.fixture
def server(telnyx_settings: Settings) -> Iterator[LiveServer]:
    yield from serve(telnyx_settings)


def received(message_id: str, sender: str, text: str) -> dict[str, Any]:
    return {
        "data": {
            "record_type": "event",
            "id": "evt-" + message_id,
            "event_type": "message.received",
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
            "payload": {
                "record_type": "message",
                "direction": "inbound",
                "id": message_id,
                "type": "SMS",
                "from": {
                    "phone_number": sender,
                    "carrier": "T-MOBILE USA, INC.",
                    "line_type": "Wireless",
                },
                "to": [{"phone_number": "+18005550100", "status": "webhook_delivered"}],
                "text": text,
                "media": [],
                "encoding": "GSM-7",
                "parts": 1,
                "received_at": dt.datetime.now(dt.UTC).isoformat(),
            },
        },
        "meta": {"attempt": 1, "delivered_to": "https://example.com/hooks"},
    }


def finalized(message_id: str, to: str, status: str, code: str | None = None) -> dict[str, Any]:
    errors = [{"code": code, "title": "carrier error", "detail": "..."}] if code else []
    return {
        "data": {
            "record_type": "event",
            "id": f"evt-{message_id}-{status}",
            "event_type": "message.finalized",
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
            "payload": {
                "id": message_id,
                "direction": "outbound",
                "type": "SMS",
                "from": {"phone_number": "+18005550100"},
                "to": [{"phone_number": to, "status": status, "carrier": "T-MOBILE USA, INC."}],
                "errors": errors,
                "completed_at": dt.datetime.now(dt.UTC).isoformat(),
            },
        }
    }


def post_signed(
    server: LiveServer,
    document: dict[str, Any],
    *,
    key: Ed25519PrivateKey = KEY,
    timestamp: int | None = None,
    tamper: bool = False,
) -> httpx.Response:
    body = json.dumps(document).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = base64.b64encode(key.sign(stamp.encode() + b"|" + body)).decode()
    sent = body.replace(b"Pare", b"Hola") if tamper else body
    return httpx.post(
        server.base_url + WEBHOOK,
        content=sent,
        headers={
            "Content-Type": "application/json",
            "telnyx-signature-ed25519": signature,
            "telnyx-timestamp": stamp,
        },
        timeout=30,
    )


def test_pare_received_suppresses_the_number(server: LiveServer) -> None:
    response = post_signed(server, received("msg-1", "+13055550160", "Pare"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 1
    assert body["inbound"][0]["intent"] == "opt_out"
    assert body["inbound"][0]["reply"].startswith("Acme Dental: you are unsubscribed")
    assert [(s["phone_e164"], s["reason"]) for s in suppressions(server.settings)] == [
        ("+13055550160", "opt_out")
    ]
    now = dt.datetime.now(dt.UTC)
    with server.client() as client:
        lead = new_lead(client, phone="305-555-0160", created_at=now)
        assert decide(client, lead["id"], now + dt.timedelta(minutes=1))["action"] == "suppress"
    again = post_signed(server, received("msg-1", "+13055550160", "Pare"))
    assert (
        again.json()["duplicates"] == 1
        and again.json()["inbound"][0]["reply"] == (body["inbound"][0]["reply"])
    )
    assert len(suppressions(server.settings)) == 1


@pytest.mark.parametrize("offset", [-301, -3600, 301])
def test_a_stale_or_future_timestamp_is_refused(server: LiveServer, offset: int) -> None:
    response = post_signed(
        server, received("msg-2", "+13055550161", "STOP"), timestamp=int(time.time()) + offset
    )
    assert response.status_code == 403, response.text
    assert response.json()["error"]["field"] == "telnyx-timestamp"
    assert counts(server.settings) == NOTHING


def test_a_timestamp_inside_the_tolerance_is_accepted(server: LiveServer) -> None:
    response = post_signed(
        server, received("msg-3", "+13055550162", "STOP"), timestamp=int(time.time()) - 240
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("case", ["other-key", "tampered-body", "missing", "not-base64"])
def test_a_bad_signature_is_refused_and_nothing_is_stored(server: LiveServer, case: str) -> None:
    document = received("msg-4", "+13055550163", "Pare")
    if case == "other-key":
        response = post_signed(server, document, key=OTHER_KEY)
    elif case == "tampered-body":
        response = post_signed(server, document, tamper=True)
    else:
        headers = {"Content-Type": "application/json", "telnyx-timestamp": str(int(time.time()))}
        if case == "not-base64":
            headers["telnyx-signature-ed25519"] = "***"
        response = httpx.post(
            server.base_url + WEBHOOK, content=json.dumps(document), headers=headers, timeout=30
        )
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"
    assert counts(server.settings) == NOTHING


def test_no_public_key_refuses_every_telnyx_webhook(live_server: LiveServer) -> None:
    response = post_signed(live_server, received("msg-5", "+13055550164", "STOP"))
    assert response.status_code == 403
    assert "OPTIMIZER_TELNYX_PUBLIC_KEY" in response.json()["error"]["message"]
    assert counts(live_server.settings) == NOTHING


def test_delivery_errors_act_once(server: LiveServer) -> None:
    stop = finalized("msg-6", "+13055550165", "delivery_failed", "40300")
    first = post_signed(server, stop)
    second = post_signed(server, stop)
    assert first.status_code == second.status_code == 200
    assert first.json()["statuses"][0]["action"] == "carrier_stop"
    assert first.json()["statuses"][0]["status"] == "undelivered"
    assert second.json()["duplicates"] == 1
    unreachable = post_signed(
        server, finalized("msg-7", "+13055550166", "delivery_failed", "40001")
    )
    assert unreachable.json()["statuses"][0]["action"] == "unreachable"
    delivered = post_signed(server, finalized("msg-8", "+13055550167", "delivered"))
    assert delivered.json()["statuses"][0] == {
        "status": "delivered",
        "decision_id": None,
        "lead_id": None,
        "action": None,
        "duplicate": False,
    }
    assert [(s["phone_e164"], s["reason"], s["detail"]) for s in suppressions(server.settings)] == [
        ("+13055550165", "carrier_stop", "telnyx error 40300"),
        ("+13055550166", "unreachable", "telnyx error 40001"),
    ]
    assert counts(server.settings)["provider_messages"] == 3


def test_other_event_types_are_acknowledged_and_ignored(server: LiveServer) -> None:
    document = {"data": {"event_type": "number_order.complete", "id": "x", "payload": {"id": "y"}}}
    response = post_signed(server, document)
    assert response.status_code == 200
    assert response.json()["accepted"] == 0
    assert counts(server.settings) == NOTHING


def test_a_malformed_body_is_422_after_verification(server: LiveServer) -> None:
    response = post_signed(server, {"data": {"event_type": "message.received", "payload": {}}})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "data.payload.id"


def test_a_sender_that_is_not_a_phone_number_is_named(server: LiveServer) -> None:
    response = post_signed(server, received("msg-9", "ACME", "STOP"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "data.payload.from.phone_number"
    assert counts(server.settings) == NOTHING
