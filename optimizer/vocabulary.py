"""One timeline for every channel: the event types and channels the service accepts.

Pure constants: the store's tables, the features and the API's schemas all read them here.
"""

from __future__ import annotations

EVENT_TYPES = (
    "sent",
    "delivered",
    "failed",
    "inbound",
    "reply",
    "click",
    "conversion",
    "call",
    "webchat",
    "email_open",
    "visit",
    "purchase",
)
CHANNELS = ("sms", "voice", "rcs", "webchat", "email")
