"""What the point-in-time lead features are: event kinds, channels, windows, column names.

Every feature of a row is computed from the lead's record and from the events that occurred
strictly before the row's ``as_of`` (``occurred_at < as_of``); nothing later can influence it.
``recorded_at`` is not used, so back-filled history counts from when it happened.

Columns (in order; ``attr_*`` columns follow, one per top-level scalar key of the leads'
zero-party ``attributes``, sorted by key):
- ``days_since_created``; ``source``, ``vertical``, ``state`` (text)
- ``days_since_<kind>`` for each engagement kind (NaN = never), ``days_since_engagement`` (any
  kind), ``days_since_sms_reply``, ``days_since_conversion``
- ``n_<type>_<w>d``: events of each type in the last 7 / 30 / 90 days (age < w days)
- ``n_ch_<channel>_<w>d``: events on each channel in the last 7 / 30 / 90 days
- ``purchase_count``, ``purchase_value`` (sum of ``value``), ``days_since_purchase``
- ``marketing_sent``, ``marketing_sent_30d``, ``days_since_marketing_sent``, ``marketing_replies``
  (replies within 72 h after a marketing send), ``marketing_reply_rate`` (replies / sends, NaN
  with no send)
- ``local_hour``, ``local_dow`` (Monday = 0), ``is_weekend``: ``as_of`` in the lead's time zone
  (NaN when the time zone is missing or unknown)
"""

from __future__ import annotations

from optimizer.vocabulary import CHANNELS, EVENT_TYPES

FEATURE_SOURCE = "store:v1"
__all__ = ["CHANNELS", "EVENT_TYPES"]
ENGAGEMENT_TYPES = ("reply", "click", "inbound", "call", "webchat", "email_open", "visit")
WINDOWS_DAYS = (7, 30, 90)
REPLY_ATTRIBUTION_HOURS = 72
LEAD_TEXT_COLUMNS = ("source", "vertical", "state")
ATTRIBUTE_PREFIX = "attr_"


def base_columns() -> tuple[str, ...]:
    """Every feature column except the ``attr_*`` ones, in output order."""
    cols = ["days_since_created", *LEAD_TEXT_COLUMNS]
    cols += [f"days_since_{k}" for k in ENGAGEMENT_TYPES]
    cols += ["days_since_engagement", "days_since_sms_reply", "days_since_conversion"]
    cols += [f"n_{t}_{w}d" for t in EVENT_TYPES for w in WINDOWS_DAYS]
    cols += [f"n_ch_{c}_{w}d" for c in CHANNELS for w in WINDOWS_DAYS]
    cols += ["purchase_count", "purchase_value", "days_since_purchase"]
    cols += ["marketing_sent", "marketing_sent_30d", "days_since_marketing_sent"]
    cols += ["marketing_replies", "marketing_reply_rate"]
    cols += ["local_hour", "local_dow", "is_weekend"]
    return tuple(cols)


COUNT_COLUMNS = frozenset(
    [f"n_{t}_{w}d" for t in EVENT_TYPES for w in WINDOWS_DAYS]
    + [f"n_ch_{c}_{w}d" for c in CHANNELS for w in WINDOWS_DAYS]
    + ["purchase_count", "marketing_sent", "marketing_sent_30d", "marketing_replies"]
)
