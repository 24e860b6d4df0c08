"""Sends and outcomes read from the event log, with each outcome tied to the send that earned it.

Everything the health, segment and attribution reports count starts here, so the three pages
agree on what a send, a response and a conversion are:

- a *send* is a ``sent`` event (any channel), enriched with its decision (variant, segment,
  local send time) and its position in the lead's sequence (touch 1, 2, 3...);
- a *response* is a ``reply``/``inbound`` event that is not an opt-out, credited to the lead's
  latest send within the attribution window (default 72 h);
- a *conversion* is a ``conversion``/``purchase`` event (its value is revenue), credited to the
  lead's latest send within the conversion horizon (default 14 days).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from optimizer.store import reports_repo
from optimizer.store.db import Session
from optimizer.store.reports_repo import variant_labels

RESPONSE_TYPES = ("reply", "inbound")
CONVERSION_TYPES = ("conversion", "purchase")
NON_RESPONSE_INTENTS = ("opt_out",)


@dataclass(frozen=True)
class Send:
    event_id: int
    lead_id: int
    occurred_at: dt.datetime
    position: int  # 1 = the lead's first send ever
    decision_id: str | None
    experiment_id: int | None
    variant_id: int | None
    variant_label: str | None  # "experiment / variant"
    segment: str | None
    vertical: str | None
    local_hour: int | None  # None when not asked for (``local_time=False``)
    local_weekday: int | None  # Monday = 0


@dataclass(frozen=True)
class Outcome:
    event_id: int
    lead_id: int
    type: str
    occurred_at: dt.datetime
    value: float
    intent: str | None


def _zone(name: str | None) -> dt.tzinfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return dt.UTC


def load_sends(session: Session, *, until: dt.datetime, local_time: bool = True) -> list[Send]:
    """Every send before ``until``, in time order, with its position in the lead's sequence.

    ``local_time`` adds the local send hour and weekday (the decision's ``send_at`` in its time
    zone); reports that do not show them skip the conversion.
    """
    rows = reports_repo.sends_until(session, until=until)
    labels = variant_labels(session)
    counts: dict[int, int] = defaultdict(int)
    sends: list[Send] = []
    for (
        event_id, lead_id, occurred_at, decision_id, event_variant,
        found_decision, send_at, decision_zone, experiment_id, decision_variant, segment,
        vertical, lead_zone,
    ) in rows:  # fmt: skip
        counts[lead_id] += 1
        variant_id = event_variant if event_variant is not None else decision_variant
        moment = occurred_at
        zone_name = lead_zone
        if found_decision is not None:
            moment = send_at or occurred_at
            zone_name = decision_zone or lead_zone
        local = moment.astimezone(_zone(zone_name)) if local_time else None
        sends.append(
            Send(
                event_id=event_id,
                lead_id=lead_id,
                occurred_at=occurred_at,
                position=counts[lead_id],
                decision_id=decision_id,
                experiment_id=experiment_id,
                variant_id=variant_id,
                variant_label=labels.get(variant_id) if variant_id is not None else None,
                segment=segment,
                vertical=vertical,
                local_hour=local.hour if local else None,
                local_weekday=local.weekday() if local else None,
            )
        )
    return sends


def load_outcomes(
    session: Session, *, start: dt.datetime, end: dt.datetime, types: Sequence[str]
) -> list[Outcome]:
    """Events of ``types`` in ``[start, end)``, in time order."""
    rows = reports_repo.events_in(session, start=start, end=end, types=types)
    return [
        Outcome(
            event_id=event_id,
            lead_id=lead_id,
            type=kind,
            occurred_at=occurred_at,
            value=float(value or 0.0),
            intent=meta.get("intent") if isinstance(meta, dict) else None,
        )
        for event_id, lead_id, kind, occurred_at, value, meta in rows
    ]


def is_response(outcome: Outcome) -> bool:
    return outcome.type in RESPONSE_TYPES and outcome.intent not in NON_RESPONSE_INTENTS


def is_opt_out(outcome: Outcome) -> bool:
    return outcome.type in RESPONSE_TYPES and outcome.intent == "opt_out"


class SendIndex:
    """Per-lead send times, to find the send an outcome belongs to."""

    def __init__(self, sends: Sequence[Send]) -> None:
        self._by_lead: dict[int, list[Send]] = defaultdict(list)
        for send in sends:
            self._by_lead[send.lead_id].append(send)
        self._times = {
            lead: [s.occurred_at for s in items] for lead, items in self._by_lead.items()
        }

    def latest_before(self, lead_id: int, moment: dt.datetime, window: dt.timedelta) -> Send | None:
        """The lead's latest send at or before ``moment`` and no older than ``window``."""
        times = self._times.get(lead_id)
        if not times:
            return None
        index = bisect.bisect_right(times, moment) - 1
        if index < 0:
            return None
        send = self._by_lead[lead_id][index]
        return send if moment - send.occurred_at <= window else None

    def within(self, lead_id: int, moment: dt.datetime, window: dt.timedelta) -> list[Send]:
        """The lead's sends in ``[moment - window, moment]``, oldest first."""
        times = self._times.get(lead_id)
        if not times:
            return []
        low = bisect.bisect_left(times, moment - window)
        high = bisect.bisect_right(times, moment)
        return self._by_lead[lead_id][low:high]


@dataclass(frozen=True)
class Credited:
    """Outcomes credited to each send (by event id) under last touch."""

    responded: frozenset[int]
    converted: frozenset[int]
    revenue: dict[int, float]
    opted_out: frozenset[int]


def credit_last_touch(
    sends: Sequence[Send],
    outcomes: Sequence[Outcome],
    *,
    response_window: dt.timedelta,
    conversion_window: dt.timedelta,
) -> Credited:
    index = SendIndex(sends)
    responded: set[int] = set()
    converted: set[int] = set()
    opted_out: set[int] = set()
    revenue: dict[int, float] = defaultdict(float)
    for outcome in outcomes:
        if outcome.type in CONVERSION_TYPES:
            send = index.latest_before(outcome.lead_id, outcome.occurred_at, conversion_window)
            if send is not None:
                converted.add(send.event_id)
                revenue[send.event_id] += outcome.value
        elif is_opt_out(outcome):
            send = index.latest_before(outcome.lead_id, outcome.occurred_at, response_window)
            if send is not None:
                opted_out.add(send.event_id)
        elif is_response(outcome):
            send = index.latest_before(outcome.lead_id, outcome.occurred_at, response_window)
            if send is not None:
                responded.add(send.event_id)
    return Credited(
        responded=frozenset(responded),
        converted=frozenset(converted),
        revenue=dict(revenue),
        opted_out=frozenset(opted_out),
    )
