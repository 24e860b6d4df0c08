"""One lead's point-in-time features without pandas: the decision API's low-latency path.

:func:`lead_feature_row` gives exactly what ``load_lead_features(session, lead_ids=[lead_id],
as_of=as_of).iloc[0].to_dict()`` gives (same keys in the same order, same values, NaN where NaN),
with the same two queries and plain Python over that lead's events; :func:`feature_row` is the
pure part. Exactness is deliberate, not approximate: ages are integer nanoseconds divided as
float64 (as pandas does), counts are ints, a missing text value is NaN (pandas' ``str`` dtype),
and ``purchase_value`` is summed in the order the store returns the events (as ``np.bincount``
does). ``tests/features/test_single.py`` checks this against :func:`build_features`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import sys
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from optimizer.errors import InvalidInput
from optimizer.features.definitions import (
    ATTRIBUTE_PREFIX,
    CHANNELS,
    ENGAGEMENT_TYPES,
    EVENT_TYPES,
    LEAD_TEXT_COLUMNS,
    REPLY_ATTRIBUTION_HOURS,
    WINDOWS_DAYS,
    base_columns,
)
from optimizer.features.history import record_as_of
from optimizer.features.store import LEAD_FIELDS
from optimizer.store.db import core_execute
from optimizer.store.events import LeadEvents
from optimizer.store.models import Event, Lead, LeadChange

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# float64, as in pandas' ``timedelta64[ns] / Timedelta(days=1)`` (both operands cast to double).
_NS_PER_DAY = float(86_400 * 10**9)
_ATTRIBUTION_NS = REPLY_ATTRIBUTION_HOURS * 3600 * 10**9
_BASE_COLUMNS = base_columns()
_KINDS = frozenset(EVENT_TYPES)
_CHANNELS = frozenset(CHANNELS)
_ENGAGEMENT = frozenset(ENGAGEMENT_TYPES)
_KIND_WINDOWS = tuple((kind, w, f"n_{kind}_{w}d") for kind in EVENT_TYPES for w in WINDOWS_DAYS)
_CHANNEL_WINDOWS = tuple(
    (channel, w, f"n_ch_{channel}_{w}d") for channel in CHANNELS for w in WINDOWS_DAYS
)


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event of the lead (the columns :data:`optimizer.features.build.EVENT_COLUMNS` uses)."""

    type: str
    channel: str
    occurred_at: dt.datetime
    value: float | None
    marketing: bool


@dataclass(frozen=True, slots=True)
class LeadRow:
    """The lead's record (the columns :data:`optimizer.features.build.LEAD_COLUMNS` uses)."""

    created_at: dt.datetime
    source: str | None
    vertical: str | None
    state: str | None
    timezone: str | None
    attributes: Mapping[str, object] | None


def _ns(moment: dt.datetime) -> int:
    """Nanoseconds since the epoch, exact (as pandas stores an aware datetime)."""
    delta = moment - _EPOCH
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1_000


def _days(later_ns: int, earlier_ns: int) -> float:
    return float(later_ns - earlier_ns) / _NS_PER_DAY


def _text(value: object) -> object:
    return math.nan if value is None else str(value)


def _finite(value: float | None) -> float:
    """``np.nan_to_num(value, nan=0.0)``: NaN is 0, infinities are the largest finite floats."""
    if value is None or math.isnan(value):
        return 0.0
    if math.isinf(value):
        return sys.float_info.max if value > 0 else -sys.float_info.max
    return float(value)


def _local_time(as_of: dt.datetime, timezone: str | None) -> tuple[float, float, float]:
    if not isinstance(timezone, str) or not timezone:
        return math.nan, math.nan, math.nan
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return math.nan, math.nan, math.nan
    local = as_of.astimezone(zone)
    dow = local.weekday()
    return float(local.hour), float(dow), float(dow >= 5)


def _attributes(attributes: object) -> dict[str, object]:
    """The ``attr_*`` columns of one lead, as :func:`build.attribute_frame` gives them."""
    if not isinstance(attributes, dict):
        return {}
    record = {
        f"{ATTRIBUTE_PREFIX}{k}": (float(v) if isinstance(v, bool) else v)
        for k, v in attributes.items()
        if isinstance(v, str | int | float | bool)
    }
    out: dict[str, object] = {}
    for name in sorted(record):
        value = record[name]
        if isinstance(value, str):
            out[name] = value
        else:
            # A lone NaN is dropped before typing the column, which then is text (missing).
            out[name] = float(value)  # type: ignore[arg-type]
    return out


def _marketing_replies(replies: list[int], sends: list[int]) -> int:
    """Replies with a marketing send at most the attribution window before (or at) them."""
    if not replies or not sends:
        return 0
    sends = sorted(sends)
    hits = 0
    for reply in replies:
        i = bisect.bisect_right(sends, reply)
        if i and reply - sends[i - 1] <= _ATTRIBUTION_NS:
            hits += 1
    return hits


def feature_row(events: Sequence[EventRow], lead: LeadRow, as_of: dt.datetime) -> dict[str, object]:
    """The lead's feature row as of ``as_of`` (aware), in the documented column order.

    Events at or after ``as_of`` are ignored. Counts are ``int``, other numbers ``float`` (NaN
    when undefined), text is ``str`` or NaN; ``attr_*`` columns follow, sorted.
    """
    now = _ns(as_of)
    min_age: dict[str, float] = {}
    engagement = sms_reply = sent_last = math.inf
    kind_ages: dict[str, list[float]] = {kind: [] for kind in EVENT_TYPES}
    channel_ages: dict[str, list[float]] = {channel: [] for channel in CHANNELS}
    purchase_count = marketing_sent = marketing_sent_30d = 0
    purchase_value = 0.0
    replies: list[int] = []
    sends: list[int] = []
    for event in events:
        at = _ns(event.occurred_at)
        if at >= now:
            continue
        age = _days(now, at)
        kind = event.type
        if event.channel in _CHANNELS:
            channel_ages[event.channel].append(age)
        if kind not in _KINDS:
            continue
        kind_ages[kind].append(age)
        if age < min_age.get(kind, math.inf):
            min_age[kind] = age
        if kind in _ENGAGEMENT and age < engagement:
            engagement = age
        if kind == "reply":
            replies.append(at)
            if event.channel == "sms" and age < sms_reply:
                sms_reply = age
        elif kind == "purchase":
            purchase_count += 1
            purchase_value += _finite(event.value)
        elif kind == "sent" and event.marketing:
            marketing_sent += 1
            marketing_sent_30d += age < 30
            sent_last = min(sent_last, age)
            sends.append(at)

    def nan_if_inf(value: float) -> float:
        return math.nan if math.isinf(value) else value

    row: dict[str, object] = {"days_since_created": _days(now, _ns(lead.created_at))}
    for name in LEAD_TEXT_COLUMNS:
        row[name] = _text(getattr(lead, name))
    for kind in ENGAGEMENT_TYPES:
        row[f"days_since_{kind}"] = min_age.get(kind, math.nan)
    row["days_since_engagement"] = nan_if_inf(engagement)
    row["days_since_sms_reply"] = nan_if_inf(sms_reply)
    row["days_since_conversion"] = min_age.get("conversion", math.nan)
    for kind, w, name in _KIND_WINDOWS:
        row[name] = sum(1 for age in kind_ages[kind] if age < w)
    for channel, w, name in _CHANNEL_WINDOWS:
        row[name] = sum(1 for age in channel_ages[channel] if age < w)
    row["purchase_count"] = purchase_count
    row["purchase_value"] = purchase_value
    row["days_since_purchase"] = min_age.get("purchase", math.nan)
    row["marketing_sent"] = marketing_sent
    row["marketing_sent_30d"] = marketing_sent_30d
    row["days_since_marketing_sent"] = nan_if_inf(sent_last)
    hits = _marketing_replies(replies, sends)
    row["marketing_replies"] = hits
    row["marketing_reply_rate"] = hits / marketing_sent if marketing_sent else math.nan
    row["local_hour"], row["local_dow"], row["is_weekend"] = _local_time(as_of, lead.timezone)
    ordered = {name: row[name] for name in _BASE_COLUMNS}
    ordered.update(_attributes(lead.attributes))
    return ordered


_LEAD_QUERY = select(*LEAD_FIELDS, Lead.updated_at)
_EVENT_QUERY = select(Event.type, Event.channel, Event.occurred_at, Event.value, Event.marketing)
# Built once: SQLAlchemy reuses their compiled form on every decision.
_LEAD_BY_ID = _LEAD_QUERY.where(Lead.id.in_(bindparam("ids", expanding=True)))
_CHANGES_SINCE = select(LeadChange.changed_at, LeadChange.changes).where(
    LeadChange.lead_id == bindparam("lead"), LeadChange.changed_at >= bindparam("as_of")
)
_EVENTS_BEFORE = _EVENT_QUERY.where(
    Event.lead_id.in_(bindparam("ids", expanding=True)), Event.occurred_at < bindparam("as_of")
)


def lead_feature_row(
    session: Session,
    *,
    lead_id: int,
    as_of: dt.datetime,
    lead: Lead | None = None,
    events: LeadEvents | None = None,
) -> dict[str, object]:
    """One lead's features as of ``as_of`` (aware), read from the store in two queries (one when
    the caller passes the ``lead`` it already loaded, none when it also passes the lead's
    ``events`` up to ``as_of``: the rows before it, in the store's order, are what
    ``_EVENTS_BEFORE`` returns).

    Equal to ``load_lead_features(session, lead_ids=[lead_id], as_of=as_of).iloc[0]``; an
    unknown id or a naive ``as_of`` is refused with the same :class:`InvalidInput`.
    """
    if as_of.tzinfo is None:
        raise InvalidInput(f"as_of {as_of.isoformat()} has no time zone (aware UTC expected)")
    lead_id = int(lead_id)
    # ``IN`` like the batch loader, so the database returns the events in the same order
    # (``purchase_value`` is a float sum over them).
    if lead is not None and lead.id == lead_id:
        fields = (
            lead.created_at,
            lead.source,
            lead.vertical,
            lead.state,
            lead.timezone,
            lead.attributes,
            lead.updated_at,
        )
    else:
        found = core_execute(session, _LEAD_BY_ID, {"ids": [lead_id]}).first()
        if found is None:
            raise InvalidInput(f"lead ids {[lead_id]} are not in the store (1 unknown)")
        fields = tuple(found)
    rows = (
        events.before(as_of)
        if events is not None and events.covers(lead_id, as_of)
        else core_execute(session, _EVENTS_BEFORE, {"ids": [lead_id], "as_of": as_of}).all()
    )
    event_rows = [
        EventRow(
            type=row.type,
            channel=row.channel,
            occurred_at=row.occurred_at,
            value=None if row.value is None else float(row.value),
            marketing=bool(row.marketing),
        )
        for row in rows
    ]
    created, source, vertical, state, timezone, attributes, updated = fields
    if updated is not None and updated >= as_of:
        # Changed at or after as_of: its record as it was then (optimizer.features.history).
        changes = session.execute(_CHANGES_SINCE, {"lead": lead_id, "as_of": as_of}).all()
        if changes:
            then = record_as_of(
                {
                    "source": source,
                    "vertical": vertical,
                    "state": state,
                    "timezone": timezone,
                    "attributes": attributes,
                },
                [(c.changed_at, c.changes) for c in changes],
                as_of,
            )
            source, vertical, state = then["source"], then["vertical"], then["state"]
            timezone, attributes = then["timezone"], then["attributes"]
    return feature_row(
        event_rows,
        LeadRow(
            created_at=created,
            source=source,
            vertical=vertical,
            state=state,
            timezone=timezone,
            attributes=attributes,
        ),
        as_of,
    )
