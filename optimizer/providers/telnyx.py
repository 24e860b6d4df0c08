"""Telnyx's messaging webhooks (API v2, JSON): ``message.received``, ``message.sent`` and
``message.finalized``.

Telnyx signs each request with Ed25519: ``telnyx-signature-ed25519`` is the base64 signature
of ``f"{telnyx-timestamp}|{raw body}"`` under the account's public key (base64, from the
Mission Control portal), ``telnyx-timestamp`` the Unix time of signing. A timestamp further
than ``OPTIMIZER_TELNYX_TIMESTAMP_TOLERANCE_SECONDS`` from the server's clock, either way, is
refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from optimizer.errors import InvalidInput
from optimizer.providers.base import (
    ErrorAction,
    InboundMessage,
    Record,
    StatusUpdate,
    WebhookRejected,
    WebhookRequest,
    required,
)
from optimizer.settings import Settings

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
EVENT_TYPES = ("message.received", "message.sent", "message.finalized")

# Telnyx's to[].status words -> the neutral statuses.
_STATUS = {
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "delivery_failed": "undelivered",
    "sending_failed": "failed",
    "expired": "undelivered",
    "delivery_unconfirmed": "unknown",
}

# Telnyx's delivery error codes (developers.telnyx.com, messaging error codes) that change
# what may be sent: the equivalents of Twilio's 21610, 30003/30005/30006 and 30007.
ERROR_ACTIONS: Mapping[str, ErrorAction] = {
    "40300": "carrier_stop",  # blocked due to STOP message
    "40001": "unreachable",  # not routable: landline or non-routable number
    "40012": "unreachable",  # invalid destination number
    "40002": "content_flag",  # blocked as spam (temporary): the carrier's spam filter
}


def _public_key(encoded: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise WebhookRejected(
            "OPTIMIZER_TELNYX_PUBLIC_KEY is not a base64 Ed25519 public key (32 bytes): "
            "Telnyx webhooks cannot be verified"
        ) from exc


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else None


class TelnyxProvider:
    name = "telnyx"
    error_actions = ERROR_ACTIONS

    def verify(self, request: WebhookRequest, *, settings: Settings, now: dt.datetime) -> None:
        if not settings.telnyx_public_key:
            raise WebhookRejected(
                "Telnyx webhooks are not enabled: OPTIMIZER_TELNYX_PUBLIC_KEY is not set"
            )
        key = _public_key(settings.telnyx_public_key)
        stamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
        presented = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not stamp or not presented:
            raise WebhookRejected(
                "telnyx-signature-ed25519 and telnyx-timestamp headers are required (Telnyx's "
                "request signature expected)",
                field=SIGNATURE_HEADER if not presented else TIMESTAMP_HEADER,
            )
        if not stamp.isdigit():
            raise WebhookRejected(
                f"telnyx-timestamp {stamp[:20]!r} is not Unix seconds", field=TIMESTAMP_HEADER
            )
        signed_at = int(stamp)
        tolerance = settings.telnyx_timestamp_tolerance_seconds
        offset = now.timestamp() - signed_at
        if abs(offset) > tolerance:
            when = "old" if offset > 0 else "ahead of the server's clock"
            raise WebhookRejected(
                f"telnyx-timestamp {signed_at} is {abs(offset):.0f} s {when} (within "
                f"{tolerance:.0f} s of the server's clock expected): refused as a replay",
                field=TIMESTAMP_HEADER,
            )
        try:
            raw_signature = base64.b64decode(presented, validate=True)
        except binascii.Error as exc:
            raise WebhookRejected(
                "telnyx-signature-ed25519 is not base64", field=SIGNATURE_HEADER
            ) from exc
        try:
            key.verify(raw_signature, stamp.encode("ascii") + b"|" + request.body)
        except InvalidSignature as exc:
            raise WebhookRejected(
                "telnyx-signature-ed25519 does not match this request (signed with the key "
                "whose public half is OPTIMIZER_TELNYX_PUBLIC_KEY over 'timestamp|body' expected)",
                field=SIGNATURE_HEADER,
            ) from exc

    def parse(self, request: WebhookRequest) -> Sequence[Record]:
        try:
            document = json.loads(request.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(
                "body is not JSON (Telnyx's webhook expected)", field="body"
            ) from exc
        data = document.get("data") if isinstance(document, dict) else None
        if not isinstance(data, dict):
            raise InvalidInput("data is missing (Telnyx's webhook envelope expected)", field="data")
        event_type = data.get("event_type")
        payload = data.get("payload")
        if not isinstance(payload, dict):
            raise InvalidInput("data.payload is missing (a message expected)", field="data.payload")
        if event_type not in EVENT_TYPES:
            return ()  # other events (calls, numbers, ...) are acknowledged and ignored
        message_id = required(payload.get("id"), "data.payload.id", "Telnyx's message id")
        occurred = _time(data.get("occurred_at"))
        if event_type == "message.received":
            sender = payload.get("from")
            number = sender.get("phone_number") if isinstance(sender, dict) else None
            kind = str(payload.get("type") or "SMS").upper()
            return (
                InboundMessage(
                    provider=self.name,
                    message_id=message_id,
                    from_number=required(
                        number, "data.payload.from.phone_number", "the sender's phone number"
                    ),
                    text=str(payload.get("text") or ""),
                    channel="rcs" if kind == "RCS" else "sms",
                    occurred_at=_time(payload.get("received_at")) or occurred,
                    from_field="data.payload.from.phone_number",
                ),
            )
        recipients = payload.get("to")
        first = recipients[0] if isinstance(recipients, list) and recipients else {}
        if not isinstance(first, dict):
            first = {}
        raw = str(first.get("status") or ("sent" if event_type == "message.sent" else "unknown"))
        errors = payload.get("errors")
        code = None
        if isinstance(errors, list):
            for error in errors:
                if isinstance(error, dict) and error.get("code") not in (None, ""):
                    code = str(error["code"])[:20]
                    break
        number = first.get("phone_number")
        return (
            StatusUpdate(
                provider=self.name,
                message_id=message_id,
                status=_STATUS.get(raw.lower(), "unknown"),
                raw_status=raw.lower()[:40],
                error_code=code,
                to_number=number if isinstance(number, str) and number else None,
                occurred_at=_time(payload.get("completed_at")) or occurred,
            ),
        )
