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

# Which experiment metric an outcome event feeds (the arms' rewards and the holdout's lift).
OUTCOME_METRICS: dict[str, tuple[str, ...]] = {
    "reply": ("reply",),
    "inbound": ("reply",),
    "click": ("click",),
    "conversion": ("conversion", "revenue"),
    "purchase": ("conversion", "revenue"),
}


def outcome_types(metric: str) -> tuple[str, ...]:
    """The event types that count as an outcome of ``metric``."""
    return tuple(kind for kind, metrics in OUTCOME_METRICS.items() if metric in metrics)


# Inbound intents that are not an outcome of a text (never a reward, never a holdout's reply).
NOT_OUTCOME_INTENTS = ("opt_out", "help", "start")
