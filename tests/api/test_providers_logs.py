"""Provider webhooks over real HTTP leave no phone number and no message text in the log."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from twilio.request_validator import RequestValidator

from optimizer.settings import Settings
from tests.api.test_providers_telnyx import received
from tests.api.test_providers_twilio import TOKEN, inbound, status
from tests.api.test_request_log import LoggedServer, logged_server  # noqa: F401

KEY = Ed25519PrivateKey.generate()
PHONE = "+13055550142"
TEXT = "STOP my gate code is 4417 after six"
SECRETS = ("5550142", "555-0142", "after six", "gate code", "4417")
RANDOM_IDS = re.compile(
    r"\b[0-9a-f]{32}\b|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
)


@pytest.fixture
def live_settings(tmp_path: Path, shared_mlflow_uri: str) -> Settings:
    """The request-log server, with both providers' secrets set."""
    public = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return Settings(
        var_dir=tmp_path / "var",
        mlflow_tracking_uri=shared_mlflow_uri,
        brand_name="Acme Dental",
        twilio_auth_token=TOKEN,
        telnyx_public_key=base64.b64encode(public).decode(),
    )


def test_no_phone_or_text_in_the_log(logged_server: LoggedServer) -> None:  # noqa: F811
    base = logged_server.base_url
    sent = []
    for path, params in (
        ("/v1/providers/twilio/inbound", inbound("SM" + "a" * 32, PHONE, TEXT)),
        ("/v1/providers/twilio/status", status("SM" + "b" * 32, PHONE, "failed", "30006")),
    ):
        signature = RequestValidator(TOKEN).compute_signature(base + path, params)
        response = httpx.post(
            base + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=30
        )
        assert response.status_code == 200, response.text
        sent.append(response)
    refused = httpx.post(base + "/v1/providers/twilio/inbound", data={"From": PHONE, "Body": TEXT})
    assert refused.status_code == 403
    body = json.dumps(received("msg-log", PHONE, TEXT)).encode()
    stamp = str(int(time.time()))
    signature = base64.b64encode(KEY.sign(stamp.encode() + b"|" + body)).decode()
    telnyx = httpx.post(
        base + "/v1/providers/telnyx/webhook",
        content=body,
        headers={"telnyx-signature-ed25519": signature, "telnyx-timestamp": stamp},
        timeout=30,
    )
    assert telnyx.status_code == 200, telnyx.text
    deadline = time.monotonic() + 5
    while len([x for x in logged_server.lines() if x.get("event") == "request"]) < 4:
        assert time.monotonic() < deadline, logged_server.output.getvalue()
        time.sleep(0.05)
    lines = [x for x in logged_server.lines() if x.get("event") == "request"]
    assert {x["route"] for x in lines} == {
        "/v1/providers/twilio/inbound",
        "/v1/providers/twilio/status",
        "/v1/providers/telnyx/webhook",
    }
    assert {x["status"] for x in lines} == {200, 403}
    # Random ids (request ids, decision UUIDs) are hex: "4417" turns up in one now and then.
    text = RANDOM_IDS.sub("<id>", logged_server.output.getvalue())
    for secret in SECRETS:
        assert secret not in text, secret
