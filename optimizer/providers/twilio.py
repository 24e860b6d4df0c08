"""Twilio's messaging webhooks: inbound messages and status callbacks (form-encoded).

Twilio signs each request with ``X-Twilio-Signature``: base64 HMAC-SHA1, keyed with the
account's auth token, over the full URL it requested followed by every POST parameter sorted
by name, name and value concatenated. Every parameter received is signed, so one Twilio adds
later verifies too. As Twilio's own ``RequestValidator`` does, the URL is tried with and
without its default port (Twilio's signing is not consistent there).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from xml.sax.saxutils import escape

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

SIGNATURE_HEADER = "x-twilio-signature"

# Twilio's MessageStatus words -> the neutral statuses.
_STATUS = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "read": "read",
    "canceled": "canceled",
}

# Twilio's error codes (twilio.com/docs/api/errors) that change what may be sent.
ERROR_ACTIONS: Mapping[str, ErrorAction] = {
    "21610": "carrier_stop",  # attempt to send to unsubscribed recipient (replied STOP)
    "30003": "unreachable",  # unreachable destination handset
    "30005": "unreachable",  # unknown destination handset
    "30006": "unreachable",  # landline or unreachable carrier
    "30007": "content_flag",  # message filtered by the carrier
}


def form_params(body: bytes) -> list[tuple[str, str]]:
    """The POST parameters of a form-encoded body, in order, repeats kept."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "body is not UTF-8 (Twilio's form-encoded webhook expected)", field="body"
        ) from exc
    return parse_qsl(text, keep_blank_values=True)


def signature(token: str, url: str, params: Sequence[tuple[str, str]]) -> str:
    """Twilio's signature of a request: the same string Twilio's RequestValidator computes
    (names sorted, each name's distinct values sorted)."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    payload = url + "".join(
        name + value for name in sorted(values) for value in sorted(values[name])
    )
    digest = hmac.new(token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _url_variants(url: str) -> tuple[str, ...]:
    """The URL without its port and with it (the default port added when it has none)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    without = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port}"))
    return (without, with_port)


class TwilioProvider:
    name = "twilio"
    error_actions = ERROR_ACTIONS

    def __init__(self, kind: str) -> None:
        if kind not in ("inbound", "status"):
            raise ValueError(f"kind {kind!r} (inbound or status expected)")
        self.kind = kind

    def verify(self, request: WebhookRequest, *, settings: Settings, now: dt.datetime) -> None:
        token = settings.twilio_auth_token
        if not token:
            raise WebhookRejected(
                "Twilio webhooks are not enabled: OPTIMIZER_TWILIO_AUTH_TOKEN is not set"
            )
        presented = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not presented:
            raise WebhookRejected(
                "X-Twilio-Signature header is missing (Twilio's request signature expected)",
                field="X-Twilio-Signature",
            )
        params = form_params(request.body)
        for url in _url_variants(request.url):
            expected = signature(token, url, params)
            if hmac.compare_digest(expected.encode("ascii"), presented.encode("utf-8", "replace")):
                return
        raise WebhookRejected(
            "X-Twilio-Signature does not match this request (signed with the auth token in "
            "OPTIMIZER_TWILIO_AUTH_TOKEN over the URL Twilio requested, "
            "OPTIMIZER_PUBLIC_BASE_URL + path when set, expected)",
            field="X-Twilio-Signature",
        )

    def parse(self, request: WebhookRequest) -> Sequence[Record]:
        params = dict(form_params(request.body))  # a repeated name: its last value
        sid = required(
            params.get("MessageSid") or params.get("SmsSid"), "MessageSid", "Twilio's message SID"
        )
        if self.kind == "inbound":
            sender = required(params.get("From"), "From", "the sender's phone number")
            channel = "sms"
            if sender.lower().startswith("rcs:"):
                channel, sender = "rcs", sender[4:]
            return (
                InboundMessage(
                    provider=self.name,
                    message_id=sid,
                    from_number=sender,
                    text=params.get("Body", ""),
                    channel=channel,
                    occurred_at=None,  # Twilio's inbound webhook carries no time
                ),
            )
        raw = required(
            params.get("MessageStatus") or params.get("SmsStatus"),
            "MessageStatus",
            "one of " + ", ".join(_STATUS),
        ).lower()
        code = (params.get("ErrorCode") or "").strip() or None
        to = params.get("To", "").strip()
        if to.lower().startswith("rcs:"):
            to = to[4:]
        return (
            StatusUpdate(
                provider=self.name,
                message_id=sid,
                status=_STATUS.get(raw, "unknown"),
                raw_status=raw[:40],
                error_code=code[:20] if code else None,
                to_number=to or None,
                occurred_at=None,
            ),
        )


def twiml(text: str | None) -> str:
    """The TwiML answer to an inbound message: one reply, or none."""
    if not text:
        return '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Message>{escape(text)}</Message></Response>"
    )
