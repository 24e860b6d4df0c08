"""The providers' signature checks as units, against Twilio's own RequestValidator and an
Ed25519 key pair made here; the clock is an argument."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from twilio.request_validator import RequestValidator

from optimizer.errors import InvalidInput
from optimizer.providers import TelnyxProvider, TwilioProvider, WebhookRejected, WebhookRequest
from optimizer.providers.twilio import form_params, signature
from optimizer.settings import Settings

TOKEN = "f" * 32
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
KEY = Ed25519PrivateKey.generate()
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
TWILIO = Settings(twilio_auth_token=TOKEN)
TELNYX = Settings(telnyx_public_key=PUBLIC)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"Body": "STOP", "From": "+13055550142", "MessageSid": "SM1"},
        {"Body": "¿Qué? no más mensajes & = ü 😀", "b": "", "A": "x", "a": "y"},
        {"Z" * 50: "1", "MediaUrl0": "https://x.example/a?b=c&d=e"},
    ],
)
def test_the_signature_is_twilios(params: dict[str, str]) -> None:
    url = "https://sms.example.com/v1/providers/twilio/inbound?x=1"
    assert signature(TOKEN, url, list(params.items())) == RequestValidator(TOKEN).compute_signature(
        url, params
    )


def _twilio(url: str, params: dict[str, str], signed: str) -> WebhookRequest:
    return WebhookRequest(
        url=url,
        headers={"x-twilio-signature": signed},
        body=urlencode(params).encode(),
    )


@pytest.mark.parametrize(
    ("signed_url", "request_url"),
    [
        ("https://sms.example.com/hook", "https://sms.example.com/hook"),
        ("https://sms.example.com:443/hook", "https://sms.example.com/hook"),
        ("https://sms.example.com/hook", "https://sms.example.com:443/hook"),
        ("http://127.0.0.1:8123/hook", "http://127.0.0.1:8123/hook"),
    ],
)
def test_twilio_verifies_with_and_without_the_port(signed_url: str, request_url: str) -> None:
    params = {"MessageSid": "SM1", "From": "+13055550142", "Body": "STOP"}
    signed = RequestValidator(TOKEN).compute_signature(signed_url, params)
    # Twilio's own validator agrees.
    assert RequestValidator(TOKEN).validate(request_url, params, signed)
    TwilioProvider("inbound").verify(_twilio(request_url, params, signed), settings=TWILIO, now=NOW)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("other-url", "does not match"),
        ("other-body", "does not match"),
        ("no-header", "missing"),
        ("no-token", "OPTIMIZER_TWILIO_AUTH_TOKEN"),
    ],
)
def test_twilio_refuses(change: str, expected: str) -> None:
    url = "https://sms.example.com/hook"
    params = {"MessageSid": "SM1", "From": "+13055550142", "Body": "STOP"}
    signed = RequestValidator(TOKEN).compute_signature(url, params)
    request = _twilio(url, params, signed)
    settings = TWILIO
    if change == "other-url":
        request = _twilio("https://sms.example.com/hook2", params, signed)
    elif change == "other-body":
        request = _twilio(url, {**params, "Body": "START"}, signed)
    elif change == "no-header":
        request = WebhookRequest(url=url, headers={}, body=request.body)
    else:
        settings = Settings()
    with pytest.raises(WebhookRejected, match=expected):
        TwilioProvider("inbound").verify(request, settings=settings, now=NOW)
    # Twilio's validator says the same of the changed request.
    if change in ("other-url", "other-body"):
        assert not RequestValidator(TOKEN).validate(
            request.url, dict(form_params(request.body)), signed
        )


def _telnyx(body: bytes, stamp: int, key: Ed25519PrivateKey = KEY) -> WebhookRequest:
    signed = base64.b64encode(key.sign(f"{stamp}|".encode() + body)).decode()
    return WebhookRequest(
        url="https://sms.example.com/v1/providers/telnyx/webhook",
        headers={"telnyx-signature-ed25519": signed, "telnyx-timestamp": str(stamp)},
        body=body,
    )


@pytest.mark.parametrize("offset", [0, -300, 300, -1, 1])
def test_telnyx_accepts_inside_the_tolerance(offset: int) -> None:
    stamp = int(NOW.timestamp()) + offset
    TelnyxProvider().verify(_telnyx(b'{"data": {}}', stamp), settings=TELNYX, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_telnyx_refuses_outside_the_tolerance(offset: int) -> None:
    stamp = int(NOW.timestamp()) + offset
    with pytest.raises(WebhookRejected, match="refused as a replay"):
        TelnyxProvider().verify(_telnyx(b"{}", stamp), settings=TELNYX, now=NOW)


def test_telnyx_refuses_another_key_a_changed_body_and_a_bad_setting() -> None:
    stamp = int(NOW.timestamp())
    with pytest.raises(WebhookRejected, match="does not match"):
        TelnyxProvider().verify(
            _telnyx(b"{}", stamp, Ed25519PrivateKey.generate()), settings=TELNYX, now=NOW
        )
    changed = _telnyx(b'{"a": 1}', stamp)
    changed = WebhookRequest(url=changed.url, headers=changed.headers, body=b'{"a": 2}')
    with pytest.raises(WebhookRejected, match="does not match"):
        TelnyxProvider().verify(changed, settings=TELNYX, now=NOW)
    # The timestamp is signed too: the same signature with another timestamp fails.
    moved = _telnyx(b"{}", stamp)
    moved = WebhookRequest(
        url=moved.url, headers={**moved.headers, "telnyx-timestamp": str(stamp + 1)}, body=b"{}"
    )
    with pytest.raises(WebhookRejected, match="does not match"):
        TelnyxProvider().verify(moved, settings=TELNYX, now=NOW)
    with pytest.raises(WebhookRejected, match="not a base64 Ed25519 public key"):
        TelnyxProvider().verify(
            _telnyx(b"{}", stamp), settings=Settings(telnyx_public_key="bm9wZQ=="), now=NOW
        )


def test_telnyx_parses_its_messages() -> None:
    body = (
        b'{"data": {"event_type": "message.finalized", "occurred_at": "2026-12-07T12:00:00Z",'
        b' "payload": {"id": "m-1", "to": [{"phone_number": "+13055550142",'
        b' "status": "delivery_failed"}], "errors": [{"code": "40300", "title": "Blocked"}]}}}'
    )
    [update] = TelnyxProvider().parse(_telnyx(body, int(NOW.timestamp())))
    assert update.status == "undelivered" and update.raw_status == "delivery_failed"  # type: ignore[union-attr]
    assert update.error_code == "40300" and update.to_number == "+13055550142"  # type: ignore[union-attr]
    assert update.occurred_at == NOW
    with pytest.raises(InvalidInput, match="not JSON"):
        TelnyxProvider().parse(_telnyx(b"not json", 0))
