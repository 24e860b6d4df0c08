"""SMS providers' webhooks behind one small interface (:class:`~optimizer.providers.base.Provider`):
Twilio and Telnyx verify and parse their own webhooks into provider-neutral records, which
:mod:`optimizer.providers.service` applies through the event and suppression code."""

from optimizer.providers.base import (
    InboundMessage,
    Provider,
    StatusUpdate,
    WebhookRejected,
    WebhookRequest,
)
from optimizer.providers.telnyx import TelnyxProvider
from optimizer.providers.twilio import TwilioProvider, twiml

__all__ = [
    "InboundMessage",
    "Provider",
    "StatusUpdate",
    "TelnyxProvider",
    "TwilioProvider",
    "WebhookRejected",
    "WebhookRequest",
    "twiml",
]
