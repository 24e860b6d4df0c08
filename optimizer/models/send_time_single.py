"""One lead's send-time model input without pandas in the hot path (the decision API's case).

``load_lead_features`` builds frames for a pool; for one lead its fixed pandas cost dominates.
Here the lead's events go through numpy once and ``LeadRows`` arrays come out, which
``SendTimeModel.score_slots`` takes as they are; ``send_time_row`` also gives the 1-row frame,
equal to ``load_lead_features(session, lead_ids=[lead_id], as_of=as_of)`` column for column.
The same rules apply (``engagement_mask``, ``count_codes`` and the point-in-time cut of
``point_in_time_counts``: events whose whole second is before the as-of's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from optimizer.errors import InvalidInput
from optimizer.models.send_time_features import (
    COUNT_TYPES,
    FRAME_COLUMNS,
    NUMERIC_COLUMNS,
    LeadRows,
    count_codes,
    engagement_mask,
    lead_zone,
)
from optimizer.store.db import core_execute
from optimizer.store.events import LeadEvents
from optimizer.store.models import Event, Lead

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ONE_SECOND = dt.timedelta(seconds=1)
_HOUR_BINS = 48
_NUMERIC_AT = {name: j for j, name in enumerate(NUMERIC_COLUMNS)}
# An event as the store gives it: (type, occurred_at, marketing, meta).
EventTuple = tuple[str, dt.datetime, bool, Mapping[str, Any] | None]


def _epoch_seconds(moment: dt.datetime) -> int:
    """Whole seconds since the epoch, floored (naive = UTC, as ``pd.to_datetime(utc=True)``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - EPOCH) // ONE_SECOND


def single_lead_rows(
    *,
    vertical: str | None,
    source: str | None,
    zone: str,
    events: Iterable[EventTuple],
    as_of: dt.datetime,
) -> LeadRows:
    """The lead columns of one lead as of ``as_of`` from its events (pure: no store, no pandas).

    ``events``: (type, occurred_at, marketing, meta) of the lead; ``zone``: its IANA zone.
    """
    if as_of.tzinfo is None:
        raise InvalidInput(f"as_of {as_of!r} has no time zone (an aware datetime expected)")
    at_sec = _epoch_seconds(as_of)
    tz = ZoneInfo(zone)
    kinds: list[str] = []
    intents: list[str] = []
    marketing: list[bool] = []
    seconds: list[int] = []
    moments: list[dt.datetime] = []
    for kind, occurred_at, is_marketing, meta in events:
        intent = (meta or {}).get("intent") or ""
        kinds.append(str(kind))
        intents.append(intent if isinstance(intent, str) else str(intent))
        marketing.append(bool(is_marketing))
        seconds.append(_epoch_seconds(occurred_at))
        moments.append(occurred_at)
    kind_arr = np.array(kinds, dtype=object)
    sec = np.array(seconds, dtype=np.int64)
    # ``point_in_time_counts`` counts keys in [lead start, lead start + as-of second): for one
    # lead that is (second < as-of second) minus (second < 0), whatever the signs.
    weight = (sec < at_sec).astype(float) - (sec < 0).astype(float)
    engaged = np.nonzero(engagement_mask(kind_arr, np.array(intents, dtype=object)))[0]
    bins = np.empty(len(engaged), dtype=np.int64)
    hour_weight = weight[engaged].copy()
    for k, i in enumerate(engaged):
        moment = moments[i]
        try:
            local = (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(tz)
        except OverflowError:  # a stored year-1 / year-9999 row has no local hour: not counted
            bins[k], hour_weight[k] = 0, 0.0
            continue
        bins[k] = (24 if local.weekday() >= 5 else 0) + local.hour
    hours = np.bincount(bins, weights=hour_weight, minlength=_HOUR_BINS)
    code = count_codes(kind_arr, np.array(marketing, dtype=bool))
    keep = code >= 0
    counts = np.bincount(code[keep], weights=weight[keep], minlength=len(COUNT_TYPES))
    return LeadRows(
        vertical=np.array(["unknown" if vertical is None else str(vertical)], dtype=object),
        source=np.array(["unknown" if source is None else str(source)], dtype=object),
        numeric=np.concatenate([hours, counts]).astype(float)[None, :],
    )


def rows_frame(rows: LeadRows) -> pd.DataFrame:
    """The frame ``lead_frame`` builds for these rows (its column order), in one constructor."""
    columns: dict[str, np.ndarray] = {"vertical": rows.vertical, "source": rows.source}
    for name in FRAME_COLUMNS[2:]:
        columns[name] = rows.numeric[:, _NUMERIC_AT[name]]
    return pd.DataFrame(columns)


# Built once: SQLAlchemy reuses their compiled form on every decision.
_LEAD_BY_ID = select(Lead.phone_e164, Lead.timezone, Lead.state, Lead.vertical, Lead.source).where(
    Lead.id == bindparam("lead")
)
_EVENTS_BEFORE = select(Event.type, Event.occurred_at, Event.marketing, Event.meta).where(
    Event.lead_id == bindparam("lead"), Event.occurred_at < bindparam("as_of")
)


def send_time_inputs(
    session: Session,
    *,
    lead_id: int,
    as_of: dt.datetime,
    lead: Lead | None = None,
    events: LeadEvents | None = None,
) -> tuple[LeadRows, str]:
    """(lead columns for ``score_slots``, the lead's zone) from its events before ``as_of``
    (the caller may pass the ``lead`` it already loaded, saving a query, and the lead's
    ``events`` up to ``as_of``, saving the other)."""
    if lead is None or lead.id != int(lead_id):
        lead = core_execute(session, _LEAD_BY_ID, {"lead": int(lead_id)}).first()  # type: ignore[assignment]
    if lead is None:
        raise InvalidInput(
            f"lead id {lead_id} does not exist (a known lead id expected)", field="lead_id"
        )
    found = (
        events.before(as_of)
        if events is not None and events.covers(int(lead_id), as_of)
        else core_execute(session, _EVENTS_BEFORE, {"lead": int(lead_id), "as_of": as_of}).all()
    )
    zone = lead_zone(lead.phone_e164, lead.timezone, lead.state)
    rows = single_lead_rows(
        vertical=lead.vertical,
        source=lead.source,
        zone=zone,
        events=((e.type, e.occurred_at, e.marketing, e.meta) for e in found),
        as_of=as_of,
    )
    return rows, zone


def send_time_row(
    session: Session, *, lead_id: int, as_of: dt.datetime
) -> tuple[pd.DataFrame, str]:
    """(features, zone): what ``load_lead_features(session, lead_ids=[lead_id], as_of=as_of)``
    gives for the lead, built with one frame constructor."""
    rows, zone = send_time_inputs(session, lead_id=lead_id, as_of=as_of)
    return rows_frame(rows), zone
