"""Features of the send-time model: the lead's own engagement hours and the slot, in LOCAL time.

The same functions build training rows (one per logged marketing send, from events strictly
before it) and serving rows (one per lead as of now, times every candidate slot):

- lead columns: vertical, source, log counts of email opens, clicks, visits, purchases, replies,
  marketing texts; ``wd_h00..wd_h23`` / ``we_h00..we_h23``: engagement events (email opens,
  clicks, visits, purchases, replies, inbound texts other than opt-outs) by local hour on
  weekdays / weekends;
- slot columns: local hour, weekday, weekend flag, the lead's smoothed share of engagement at
  that hour (kernel over neighbouring hours, shrunk to the vertical prior), the same for the
  day type, and the vertical prior itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.compliance.recipient import MODEL_FALLBACK_ZONE, recipient_of

ENGAGEMENT_TYPES = (
    "email_open",
    "click",
    "visit",
    "purchase",
    "reply",
    "inbound",
    "webchat",
    "call",
)
COUNT_TYPES = ("email_open", "click", "visit", "purchase", "reply", "sent")
WD_COLUMNS = tuple(f"wd_h{h:02d}" for h in range(24))
WE_COLUMNS = tuple(f"we_h{h:02d}" for h in range(24))
LEAD_COLUMNS = ("vertical", "source", *(f"n_{t}" for t in COUNT_TYPES), *WD_COLUMNS, *WE_COLUMNS)
NUMERIC_COLUMNS = (*WD_COLUMNS, *WE_COLUMNS, *(f"n_{t}" for t in COUNT_TYPES))
# The column order of ``lead_frame``'s result (weekday and weekend hours interleaved).
FRAME_COLUMNS = (
    "vertical",
    "source",
    *(f"n_{t}" for t in COUNT_TYPES),
    *(c for h in range(24) for c in (WD_COLUMNS[h], WE_COLUMNS[h])),
)
SLOT_FEATURES = (
    "local_hour",
    "weekday",
    "weekend",
    "vertical_code",
    "source_code",
    "prior",
    "share_hour",
    "share_hour_daytype",
    "count_hour",
    "share_daytype",
    "daypart_share",
    "part_share",
    "window_share",
    "block_morning",
    "block_midday",
    "block_evening",
    "block_weekend",
    "persona_share",
    "engagement_total",
    *(f"log_n_{t}" for t in COUNT_TYPES),
)
DEFAULT_ZONE = MODEL_FALLBACK_ZONE
SMOOTHING = 3.0  # pseudo-events drawn from the prior when shrinking a lead's hour shares
KERNEL = np.array([0.2, 0.6, 0.2])
WIDE = np.array([0.5, 1.0, 1.0, 1.0, 0.5])
# Dayparts by local hour: night, morning, midday, afternoon, evening, late.
DAYPART = np.array([0] * 7 + [1] * 4 + [2] * 3 + [3] * 3 + [4] * 5 + [5] * 2)
N_PARTS = 6


def lead_zone(phone: str, timezone: str | None = None, state: str | None = None) -> str:
    """The zone the model reads local hours in, in training and in serving: the recipient's
    display zone (``optimizer.compliance.recipient``), else the fallback."""
    return recipient_of(phone, timezone, state).model_zone


def local_hour_weekday(
    times: pd.Series | pd.DatetimeIndex, zones: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Local hour and weekday (Monday = 0) of UTC ``times`` in per-row IANA ``zones``."""
    index = pd.DatetimeIndex(times)
    hours = np.zeros(len(index), dtype=np.int64)
    days = np.zeros(len(index), dtype=np.int64)
    zones = np.asarray(zones, dtype=object)
    for zone in pd.unique(zones):
        sel = zones == zone
        local = index[sel].tz_convert(str(zone))
        hours[sel] = local.hour
        days[sel] = local.day_of_week
    return hours, days


def engagement_mask(kind: np.ndarray, intent: np.ndarray) -> np.ndarray:
    """Which events count as engagement: the engagement types, except inbound opt-outs."""
    return np.isin(kind, ENGAGEMENT_TYPES) & ~((kind == "inbound") & (intent == "opt_out"))


def count_codes(kind: np.ndarray, marketing: np.ndarray) -> np.ndarray:
    """Index into ``COUNT_TYPES`` of each event, -1 for none (a non-marketing text is none)."""
    code = np.full(len(kind), -1)
    for c, name in enumerate(COUNT_TYPES):
        code[kind == name] = c
    code[(kind == "sent") & ~marketing] = -1
    return code


def engagement_counts(
    events: pd.DataFrame, lead_zone: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For engagement events: (lead id, bin 0..47 = weekend*24 + local hour, time as int64 ns)."""
    kind = events["type"].astype(str)
    intent = (
        events["intent"].astype(str) if "intent" in events else pd.Series("", index=events.index)
    )
    keep = engagement_mask(kind.to_numpy(dtype=object), intent.to_numpy(dtype=object))
    sel = events.loc[keep]
    zones = lead_zone.reindex(sel["lead_id"].to_numpy()).fillna(DEFAULT_ZONE).to_numpy()
    hours, days = local_hour_weekday(sel["occurred_at"], zones)
    bins = np.where(days >= 5, 24, 0) + hours
    times = pd.DatetimeIndex(sel["occurred_at"]).as_unit("ns").asi8
    return sel["lead_id"].to_numpy(dtype=np.int64), bins, times


def point_in_time_counts(
    lead_ids: np.ndarray,
    at_ns: np.ndarray,
    event_leads: np.ndarray,
    event_codes: np.ndarray,
    event_ns: np.ndarray,
    n_codes: int,
) -> np.ndarray:
    """(len(lead_ids), n_codes) counts of each lead's events strictly before ``at_ns``."""
    out = np.zeros((len(lead_ids), n_codes))
    if len(event_leads) == 0 or len(lead_ids) == 0:
        return out
    # One sort key per (lead, second): events of a lead strictly before ``at`` precede its key.
    span = 4_000_000_000
    e_key = event_leads.astype(np.int64) * span + event_ns // 1_000_000_000
    order = np.argsort(e_key, kind="stable")
    e_key, e_code = e_key[order], event_codes[order]
    onehot = np.zeros((len(e_key) + 1, n_codes))
    onehot[np.arange(1, len(e_key) + 1), e_code] = 1.0
    cum = np.cumsum(onehot, axis=0)  # cum[k] = counts over the first k sorted events
    q_lead = np.asarray(lead_ids, dtype=np.int64) * span
    pos = np.searchsorted(
        e_key, q_lead + np.asarray(at_ns, dtype=np.int64) // 1_000_000_000, "left"
    )
    lead_start = np.searchsorted(e_key, q_lead, side="left")
    return cum[pos] - cum[lead_start]


def lead_frame(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    *,
    rows_lead: np.ndarray,
    rows_at: np.ndarray,
) -> pd.DataFrame:
    """Lead columns for each (lead id, as-of) row, from events strictly before the as-of.

    ``leads``: index lead id, columns vertical, source, timezone. ``events``: lead_id, type,
    occurred_at (UTC), marketing, optional intent.
    """
    zone = leads["timezone"]
    at_ns = pd.DatetimeIndex(pd.to_datetime(rows_at, utc=True)).as_unit("ns").asi8
    e_lead, bins, e_ns = engagement_counts(events, zone)
    hours = point_in_time_counts(rows_lead, at_ns, e_lead, bins, e_ns, 48)
    kind = events["type"].astype(str).to_numpy()
    marketing = (
        events["marketing"].to_numpy(dtype=bool)
        if "marketing" in events
        else np.zeros(len(events), bool)
    )
    code = count_codes(kind, marketing)
    keep = code >= 0
    times = pd.DatetimeIndex(events["occurred_at"]).as_unit("ns").asi8
    counts = point_in_time_counts(
        rows_lead,
        at_ns,
        events["lead_id"].to_numpy(dtype=np.int64)[keep],
        code[keep],
        times[keep],
        len(COUNT_TYPES),
    )
    info = leads.reindex(rows_lead)
    frame = pd.DataFrame(
        {
            "vertical": info["vertical"].fillna("unknown").astype("str").to_numpy(),
            "source": info["source"].fillna("unknown").astype("str").to_numpy(),
        }
    )
    for c, name in enumerate(COUNT_TYPES):
        frame[f"n_{name}"] = counts[:, c]
    for h in range(24):
        frame[WD_COLUMNS[h]] = hours[:, h]
        frame[WE_COLUMNS[h]] = hours[:, 24 + h]
    return frame


def hour_counts(lead_features: pd.DataFrame) -> np.ndarray:
    """(n, 48) engagement counts: weekday hours 0-23, then weekend hours 0-23."""
    return np.hstack(
        [
            lead_features[list(WD_COLUMNS)].to_numpy(dtype=float),
            lead_features[list(WE_COLUMNS)].to_numpy(dtype=float),
        ]
    )


def fit_components(counts: np.ndarray, k: int = 6, seed: int = 0) -> np.ndarray:
    """Learn k engagement 'personas' (non-negative factors over the 48 day-type x hour bins)
    from the leads' own histories; rows of the result sum to 1."""
    from sklearn.decomposition import NMF

    active = counts[counts.sum(axis=1) >= 3]
    shares = (active + 0.05) / (active + 0.05).sum(axis=1, keepdims=True)
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=400)
    model.fit(shares)
    components = np.maximum(model.components_, 1e-9)
    return components / components.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class LeadRows:
    """The lead columns ``slot_matrix`` reads, as arrays (no frame to build or index)."""

    vertical: np.ndarray  # (n,) str
    source: np.ndarray  # (n,) str
    numeric: np.ndarray  # (n, len(NUMERIC_COLUMNS)) float, in NUMERIC_COLUMNS order

    def __len__(self) -> int:
        return len(self.vertical)

    @classmethod
    def of(cls, lead_features: pd.DataFrame | LeadRows) -> LeadRows:
        if isinstance(lead_features, LeadRows):
            return lead_features
        return cls(
            vertical=lead_features["vertical"].to_numpy().astype(str),
            source=lead_features["source"].to_numpy().astype(str),
            numeric=lead_features[list(NUMERIC_COLUMNS)].to_numpy(dtype=float),  # one lookup
        )


def slot_times(now: dt.datetime, horizon_hours: int) -> np.ndarray:
    """Hourly candidate slots (UTC datetime64) from the next whole hour over the horizon."""
    first = pd.Timestamp(now).tz_convert("UTC").ceil("h")
    return (
        pd.date_range(first, periods=horizon_hours, freq="h")
        .tz_convert(None)
        .as_unit("ns")
        .to_numpy()
    )
