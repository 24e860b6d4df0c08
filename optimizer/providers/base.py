"""The one small interface every SMS provider sits behind.

A provider turns one of its webhooks — verified first — into provider-neutral records: an
:class:`InboundMessage` (a text received) or a :class:`StatusUpdate` (a delivery status of a
message we sent), and names what each of its carrier error codes means
(:data:`ERROR_ACTIONS`). :mod:`optimizer.providers.service` applies the records through the
same event and suppression code as ``POST /v1/events``; nothing here touches the store or HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from optimizer.errors import InvalidInput, OptimizerError
from optimizer.settings import Settings

# What a carrier error makes the service do (see docs/providers.md):
# carrier_stop — the recipient opted out at the carrier: the number is suppressed;
# unreachable — landline / unknown / unreachable number: the number is marked not textable;
# content_flag — the carrier filtered the message: a flag on the decision's variant.
ErrorAction = Literal["carrier_stop", "unreachable", "content_flag"]
ERROR_ACTIONS: tuple[str, ...] = ("carrier_stop", "unreachable", "content_flag")

# Provider-neutral delivery statuses (each provider maps its own words onto these).
STATUSES = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "read",
    "canceled",
    "unknown",
)


class WebhookRejected(OptimizerError):
    """The webhook's signature is missing, wrong or stale, or the provider is not configured:
    answered 403 and nothing is stored."""

    code = "forbidden"


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """What a provider needs of an HTTP request: the URL it was sent to (as the provider
    signed it), the headers (names in lower case) and the raw body."""

    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class InboundMessage:
    provider: str
    message_id: str
    from_number: str  # as the provider sent it (normalised by the service)
    text: str
    channel: str  # one of optimizer.vocabulary.CHANNELS
    occurred_at: dt.datetime | None  # the provider's time, when it gives one
    from_field: str = "From"  # where the webhook carries the sender (named in a 422)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    provider: str
    message_id: str
    status: str  # one of STATUSES
    raw_status: str
    error_code: str | None
    to_number: str | None  # the recipient, as the provider sent it
    occurred_at: dt.datetime | None


Record = InboundMessage | StatusUpdate


class Provider(Protocol):
    """An SMS provider's webhooks: verify, then parse into neutral records."""

    name: str
    error_actions: Mapping[str, ErrorAction]

    def verify(self, request: WebhookRequest, *, settings: Settings, now: dt.datetime) -> None:
        """Raise :class:`WebhookRejected` unless the request is signed by the provider."""
        ...

    def parse(self, request: WebhookRequest) -> Sequence[Record]:
        """The records a verified webhook carries; :class:`InvalidInput` if malformed."""
        ...


def required(value: object, field: str, expected: str) -> str:
    """A webhook field that must be a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"{field} {value!r} is missing or empty ({expected} expected)", field=field
        )
    return value.strip()
