"""A slow, obviously correct version of :func:`optimizer.features.build.build_features`.

One request at a time, one event at a time, plain Python. Tests compare the fast version with it.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo

import pandas as pd

from optimizer.features.build import attribute_frame
from optimizer.features.definitions import (
    CHANNELS,
    ENGAGEMENT_TYPES,
    EVENT_TYPES,
    LEAD_TEXT_COLUMNS,
    REPLY_ATTRIBUTION_HOURS,
    WINDOWS_DAYS,
    base_columns,
)


def _days(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 86400.0


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _value(event: dict[str, object]) -> float:
    value = event["value"]
    return 0.0 if _missing(value) else float(value)  # type: ignore[arg-type]


def _min_or_nan(values: list[float]) -> float:
    return min(values) if values else math.nan


def reference_row(
    lead: dict[str, object], events: list[dict[str, object]], as_of: dt.datetime
) -> dict[str, object]:
    past = [e for e in events if e["occurred_at"] < as_of]  # type: ignore[operator]

    def age(e: dict[str, object]) -> float:
        return _days(as_of - e["occurred_at"])  # type: ignore[operator]

    row: dict[str, object] = {}
    created = lead["created_at"]
    row["days_since_created"] = _days(as_of - created) if created is not None else math.nan  # type: ignore[operator]
    for name in LEAD_TEXT_COLUMNS:
        row[name] = lead[name]
    for kind in ENGAGEMENT_TYPES:
        row[f"days_since_{kind}"] = _min_or_nan([age(e) for e in past if e["type"] == kind])
    row["days_since_engagement"] = _min_or_nan(
        [age(e) for e in past if e["type"] in ENGAGEMENT_TYPES]
    )
    row["days_since_sms_reply"] = _min_or_nan(
        [age(e) for e in past if e["type"] == "reply" and e["channel"] == "sms"]
    )
    row["days_since_conversion"] = _min_or_nan([age(e) for e in past if e["type"] == "conversion"])
    for kind in EVENT_TYPES:
        for w in WINDOWS_DAYS:
            row[f"n_{kind}_{w}d"] = sum(1 for e in past if e["type"] == kind and age(e) < w)
    for channel in CHANNELS:
        for w in WINDOWS_DAYS:
            row[f"n_ch_{channel}_{w}d"] = sum(
                1 for e in past if e["channel"] == channel and age(e) < w
            )
    purchases = [e for e in past if e["type"] == "purchase"]
    row["purchase_count"] = len(purchases)
    row["purchase_value"] = float(sum(_value(e) for e in purchases))
    row["days_since_purchase"] = _min_or_nan([age(e) for e in purchases])
    sends = [e for e in past if e["type"] == "sent" and bool(e["marketing"])]
    row["marketing_sent"] = len(sends)
    row["marketing_sent_30d"] = sum(1 for e in sends if age(e) < 30)
    row["days_since_marketing_sent"] = _min_or_nan([age(e) for e in sends])
    window = dt.timedelta(hours=REPLY_ATTRIBUTION_HOURS)
    replies = 0
    for reply in (e for e in past if e["type"] == "reply"):
        if any(
            s["occurred_at"] <= reply["occurred_at"] <= s["occurred_at"] + window  # type: ignore[operator]
            for s in sends
        ):
            replies += 1
    row["marketing_replies"] = replies
    row["marketing_reply_rate"] = replies / len(sends) if sends else math.nan
    hour = dow = weekend = math.nan
    tz = lead["timezone"]
    if isinstance(tz, str) and tz:
        try:
            local = as_of.astimezone(zoneinfo.ZoneInfo(tz))
            hour, dow = float(local.hour), float(local.weekday())
            weekend = float(local.weekday() >= 5)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    row["local_hour"], row["local_dow"], row["is_weekend"] = hour, dow, weekend
    return row


def reference_features(
    events: pd.DataFrame, leads: pd.DataFrame, requests: pd.DataFrame
) -> pd.DataFrame:
    lead_records = {int(r["lead_id"]): r for r in leads.to_dict("records")}
    event_records = events.to_dict("records")
    rows = []
    lead_attrs = []
    for request in requests.to_dict("records"):
        lead_id = int(request["lead_id"])
        as_of = pd.Timestamp(request["as_of"]).to_pydatetime()
        lead = lead_records.get(lead_id)
        lead = lead or {"created_at": None, "timezone": None, "attributes": None} | {
            n: None for n in LEAD_TEXT_COLUMNS
        }
        mine = [
            {**e, "occurred_at": pd.Timestamp(e["occurred_at"]).to_pydatetime()}
            for e in event_records
            if int(e["lead_id"]) == lead_id
        ]
        created = lead["created_at"]
        lead = {
            **lead,
            "created_at": None if created is None else pd.Timestamp(created).to_pydatetime(),
        }
        rows.append(reference_row(lead, mine, as_of))
        lead_attrs.append(lead["attributes"])
    frame = pd.DataFrame(rows, columns=list(base_columns()))
    attrs = attribute_frame(pd.Series(lead_attrs, dtype=object))
    return pd.concat([frame, attrs], axis=1) if not attrs.empty else frame
