"""Point-in-time lead features, vectorised over many (lead, as_of) rows.

:func:`build_features` is pure (DataFrames in, DataFrame out) and is what training rows and
serving rows both go through. See :mod:`optimizer.features.definitions` for the columns.

Input frames:
- ``events``: ``lead_id``, ``type``, ``channel``, ``occurred_at`` (tz-aware UTC), ``value``,
  ``marketing``
- ``leads``: ``lead_id``, ``created_at`` (tz-aware UTC), ``source``, ``vertical``, ``state``,
  ``timezone``, ``attributes`` (dict or None); optionally ``valid_until`` (tz-aware UTC): then
  the frame holds versions of each lead's record (:func:`optimizer.features.history.lead_versions`)
  and each request reads the version in effect at its ``as_of``
- ``requests``: ``lead_id``, ``as_of`` (tz-aware UTC), one row per feature row wanted
"""

from __future__ import annotations

import zoneinfo

import numpy as np
import pandas as pd

from optimizer.errors import InvalidInput
from optimizer.features.definitions import (
    ATTRIBUTE_PREFIX,
    CHANNELS,
    COUNT_COLUMNS,
    ENGAGEMENT_TYPES,
    EVENT_TYPES,
    LEAD_TEXT_COLUMNS,
    REPLY_ATTRIBUTION_HOURS,
    WINDOWS_DAYS,
    base_columns,
)
from optimizer.features.history import select_versions

EVENT_COLUMNS = ("lead_id", "type", "channel", "occurred_at", "value", "marketing")
LEAD_COLUMNS = ("lead_id", "created_at", *LEAD_TEXT_COLUMNS, "timezone", "attributes")
_DAY = pd.Timedelta(days=1)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{what} frame lacks columns {missing} (expected {list(columns)})")


def _utc(series: pd.Series, what: str) -> pd.Series:
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        if len(series) and not pd.api.types.is_datetime64_any_dtype(series):
            series = pd.to_datetime(series, utc=True)
        elif len(series):
            raise InvalidInput(f"{what} holds naive datetimes (tz-aware UTC expected)")
        else:
            series = pd.to_datetime(series, utc=True)
    return series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": pd.Series([], dtype="int64"),
            "type": pd.Series([], dtype="str"),
            "channel": pd.Series([], dtype="str"),
            "occurred_at": pd.Series([], dtype="datetime64[ns, UTC]"),
            "value": pd.Series([], dtype="float64"),
            "marketing": pd.Series([], dtype="bool"),
        }
    )


def attribute_frame(attributes: pd.Series) -> pd.DataFrame:
    """``attr_<key>`` columns from the top-level scalar values of each lead's attributes."""
    records = [
        {
            f"{ATTRIBUTE_PREFIX}{k}": (float(v) if isinstance(v, bool) else v)
            for k, v in (a or {}).items()
            if isinstance(v, str | int | float | bool)
        }
        if isinstance(a, dict)
        else {}
        for a in attributes
    ]
    frame = pd.DataFrame.from_records(records, index=attributes.index)
    out = {}
    for name in sorted(frame.columns):
        col = frame[name]
        values = col.dropna()
        if len(values) and all(isinstance(v, int | float) for v in values):
            out[name] = pd.to_numeric(col, errors="coerce").astype("float64")
        else:
            out[name] = col.map(lambda v: None if v is None or v != v else str(v)).astype("str")
    return pd.DataFrame(out, index=attributes.index)


def _local_time(as_of: pd.Series, timezones: pd.Series) -> pd.DataFrame:
    hour = np.full(len(as_of), np.nan)
    dow = np.full(len(as_of), np.nan)
    tz_values = timezones.to_numpy(dtype=object)
    for tz in pd.unique(tz_values):
        if not isinstance(tz, str) or not tz:
            continue
        try:
            zone = zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        mask = tz_values == tz
        local = as_of[mask].dt.tz_convert(zone)
        hour[mask] = local.dt.hour.to_numpy()
        dow[mask] = local.dt.day_of_week.to_numpy()
    weekend = np.where(np.isnan(dow), np.nan, (dow >= 5).astype(float))
    return pd.DataFrame({"local_hour": hour, "local_dow": dow, "is_weekend": weekend})


def _min_by(keys: np.ndarray, age: np.ndarray, size: int) -> np.ndarray:
    out = np.full(size, np.inf)
    np.minimum.at(out, keys, age)
    out[np.isinf(out)] = np.nan
    return out


def _count_by(keys: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(keys, weights=weights, minlength=size).astype(np.float64)


def _aggregate(pairs: pd.DataFrame, n: int) -> dict[str, np.ndarray]:
    """Every event-derived column, with numpy over (row, kind) keys (fast at any size)."""
    rows = pairs["_row"].to_numpy(dtype=np.int64)
    age = pairs["age"].to_numpy(dtype=np.float64)
    kind = pd.Index(EVENT_TYPES, dtype=object).get_indexer(pairs["type"].astype(object))
    channel = pd.Index(CHANNELS, dtype=object).get_indexer(pairs["channel"].astype(object))
    marketing = pairs["marketing"].to_numpy(dtype=bool)
    value = pairs["value"].to_numpy(dtype=np.float64, na_value=np.nan)
    n_kinds, n_channels = len(EVENT_TYPES), len(CHANNELS)
    out: dict[str, np.ndarray] = {}

    typed = kind >= 0
    kind_key = rows[typed] * n_kinds + kind[typed]
    min_age = _min_by(kind_key, age[typed], n * n_kinds).reshape(n, n_kinds)
    for name in ENGAGEMENT_TYPES:
        out[f"days_since_{name}"] = min_age[:, EVENT_TYPES.index(name)]
    engagement = np.isin(kind, [EVENT_TYPES.index(k) for k in ENGAGEMENT_TYPES])
    out["days_since_engagement"] = _min_by(rows[engagement], age[engagement], n)
    sms_reply = (kind == EVENT_TYPES.index("reply")) & (channel == CHANNELS.index("sms"))
    out["days_since_sms_reply"] = _min_by(rows[sms_reply], age[sms_reply], n)
    out["days_since_conversion"] = min_age[:, EVENT_TYPES.index("conversion")]

    channeled = channel >= 0
    channel_key = rows[channeled] * n_channels + channel[channeled]
    for w in WINDOWS_DAYS:
        counts = _count_by(kind_key[age[typed] < w], n * n_kinds).reshape(n, n_kinds)
        for j, name in enumerate(EVENT_TYPES):
            out[f"n_{name}_{w}d"] = counts[:, j]
        by_channel = _count_by(channel_key[age[channeled] < w], n * n_channels)
        by_channel = by_channel.reshape(n, n_channels)
        for j, name in enumerate(CHANNELS):
            out[f"n_ch_{name}_{w}d"] = by_channel[:, j]

    purchase = kind == EVENT_TYPES.index("purchase")
    out["purchase_count"] = _count_by(rows[purchase], n)
    out["purchase_value"] = _count_by(
        rows[purchase], n, weights=np.nan_to_num(value[purchase], nan=0.0)
    )
    out["days_since_purchase"] = min_age[:, EVENT_TYPES.index("purchase")]
    sends = (kind == EVENT_TYPES.index("sent")) & marketing
    out["marketing_sent"] = _count_by(rows[sends], n)
    out["marketing_sent_30d"] = _count_by(rows[sends & (age < 30)], n)
    out["days_since_marketing_sent"] = _min_by(rows[sends], age[sends], n)
    out["marketing_replies"] = _marketing_replies(
        pairs.loc[kind == EVENT_TYPES.index("reply")], pairs.loc[sends], n
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        sent = out["marketing_sent"]
        out["marketing_reply_rate"] = np.where(sent > 0, out["marketing_replies"] / sent, np.nan)
    return out


def _marketing_replies(replies: pd.DataFrame, sends: pd.DataFrame, n: int) -> np.ndarray:
    """Replies that came within the attribution window after a marketing send (per row)."""
    if replies.empty or sends.empty:
        return np.zeros(n)
    left = replies.loc[:, ["_row", "occurred_at"]].sort_values("occurred_at", kind="stable")
    right = sends.loc[:, ["_row", "occurred_at"]].rename(columns={"occurred_at": "sent_at"})
    joined = pd.merge_asof(
        left,
        right.sort_values("sent_at", kind="stable"),
        left_on="occurred_at",
        right_on="sent_at",
        by="_row",
        direction="backward",
        tolerance=pd.Timedelta(hours=REPLY_ATTRIBUTION_HOURS),
    )
    hit = joined["sent_at"].notna().to_numpy()
    return _count_by(joined["_row"].to_numpy(dtype=np.int64)[hit], n)


def build_features(
    events: pd.DataFrame, leads: pd.DataFrame, requests: pd.DataFrame
) -> pd.DataFrame:
    """One feature row per request row (same order, a fresh RangeIndex)."""
    _require(events, EVENT_COLUMNS, "events")
    _require(leads, LEAD_COLUMNS, "leads")
    _require(requests, ("lead_id", "as_of"), "requests")
    n = len(requests)
    req = pd.DataFrame(
        {
            "_row": np.arange(n),
            "lead_id": requests["lead_id"].to_numpy(dtype=np.int64),
            "as_of": _utc(requests["as_of"].reset_index(drop=True), "requests.as_of"),
        }
    )
    ev = events.loc[:, list(EVENT_COLUMNS)].copy()
    ev["lead_id"] = ev["lead_id"].astype(np.int64)
    ev["occurred_at"] = _utc(ev["occurred_at"], "events.occurred_at")
    pairs = req.merge(ev, on="lead_id", how="inner")
    pairs = pairs.loc[pairs["occurred_at"] < pairs["as_of"]]
    age = (pairs["as_of"] - pairs["occurred_at"]) / _DAY
    pairs = pairs.assign(age=age.to_numpy(dtype=np.float64))
    agg = _aggregate(pairs, n)

    if "valid_until" in leads.columns:
        # Versions of each lead's record (optimizer.features.history): the one in effect at
        # each request's as_of, so lead fields are point-in-time as events are.
        lead_rows = select_versions(
            leads.loc[:, [*LEAD_COLUMNS, "valid_until"]], req["lead_id"].to_numpy(), req["as_of"]
        ).drop(columns="lead_id")
    else:
        lead_rows = leads.loc[:, list(LEAD_COLUMNS)].drop_duplicates("lead_id")
        lead_rows = lead_rows.set_index(lead_rows["lead_id"].astype(np.int64))
        lead_rows = lead_rows.drop(columns="lead_id").reindex(req["lead_id"].to_numpy())
    created = _utc(lead_rows["created_at"].reset_index(drop=True), "leads.created_at")
    columns: dict[str, object] = {
        "days_since_created": ((req["as_of"] - created) / _DAY).to_numpy(dtype=np.float64)
    }
    for name in LEAD_TEXT_COLUMNS:
        columns[name] = pd.array(lead_rows[name].to_numpy(dtype=object), dtype="str")
    for name, values in agg.items():
        columns[name] = values.astype(np.int64) if name in COUNT_COLUMNS else values
    local = _local_time(req["as_of"], lead_rows["timezone"].reset_index(drop=True))
    for name in local.columns:
        columns[name] = local[name].to_numpy()
    out = pd.DataFrame(columns, index=pd.RangeIndex(n)).loc[:, list(base_columns())]
    attrs = attribute_frame(lead_rows["attributes"].reset_index(drop=True))
    return pd.concat([out, attrs], axis=1) if not attrs.empty else out
