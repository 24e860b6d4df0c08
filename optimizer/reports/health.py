"""List health over a period: engagement, opt-outs against the 1% / 2% marks, compliance load.

Rates per message use the sends of the period as denominator; responses and conversions are
credited to the send that earned them (see :mod:`optimizer.reports.touches`), so a reply that
arrives just after the period still counts for the send inside it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from optimizer.ingest.events import GATE_KEY, UNMANAGED_KEY
from optimizer.reports.common import (
    DNC_PREFIXES,
    FREQUENCY_PREFIXES,
    OPT_OUT_BAD,
    OPT_OUT_GOOD,
    QUIET_PREFIXES,
    READABLE_END,
    READABLE_START,
    Jsonable,
    Period,
    has_prefix,
    reason_codes,
    safe_rate,
    week_start,
)
from optimizer.reports.touches import (
    CONVERSION_TYPES,
    RESPONSE_TYPES,
    credit_last_touch,
    is_opt_out,
    load_outcomes,
    load_sends,
)
from optimizer.store import reports_repo
from optimizer.store.db import Session
from optimizer.store.provider_messages import delivery_by_variant, receipts_in, variant_labels

DEFAULT_RESPONSE_HOURS = 72
DEFAULT_CONVERSION_DAYS = 14


@dataclass(frozen=True)
class HealthFigures(Jsonable):
    sends: int
    leads_considered: int
    leads_contacted: int
    responses: int
    conversions: int
    revenue: float
    opt_outs: int
    decisions: int
    dnc_suppressions: int
    quiet_hour_deferrals: int
    frequency_deferrals: int
    response_rate: float | None
    contact_rate: float | None
    conversion_rate: float | None
    opt_out_rate: float | None
    revenue_per_message: float | None
    opt_out_status: str  # good | watch | problem | no_data


@dataclass(frozen=True)
class HealthWeek(Jsonable):
    week_start: dt.date
    figures: HealthFigures


@dataclass(frozen=True)
class VariantDeliveryRow(Jsonable):
    experiment_id: int
    variant_id: int
    variant: str
    receipts: int
    delivered: int
    delivery_rate: float | None
    content_flags: int


@dataclass(frozen=True)
class DeliveryHealth(Jsonable):
    """Providers' delivery receipts received in the period (docs/providers.md): one final
    status per message (delivered wins over a failure), each carrier error's count, and the
    delivery rate per experiment variant of the sends linked at confirm."""

    receipts: int
    delivered: int
    failed: int
    delivery_rate: float | None
    carrier_errors: dict[str, int]  # "provider:code" -> receipts with it
    variants: tuple[VariantDeliveryRow, ...]


@dataclass(frozen=True)
class UnmanagedSend(Jsonable):
    """A ``sent`` event with no confirmed decision, and what the gate said of it at its time."""

    event_id: int
    lead_id: int
    occurred_at: dt.datetime
    allowed: bool | None  # None: stored without a verdict
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ReasonCount(Jsonable):
    code: str
    sends: int


@dataclass(frozen=True)
class UnmanagedSummary(Jsonable):
    """Sends outside the gate in the period: how many, how many it would have refused, why."""

    sends: int = 0
    would_refuse: int = 0
    reasons: tuple[ReasonCount, ...] = ()
    latest: tuple[UnmanagedSend, ...] = ()  # the most recent (at most UNMANAGED_LISTED)


@dataclass(frozen=True)
class HealthReport(Jsonable):
    period: Period
    figures: HealthFigures
    weeks: tuple[HealthWeek, ...]
    opt_out_good: float = OPT_OUT_GOOD
    opt_out_bad: float = OPT_OUT_BAD
    delivery: DeliveryHealth | None = None
    unmanaged: UnmanagedSummary = UnmanagedSummary()


def opt_out_status(rate: float | None) -> str:
    """``good`` under 1%, ``watch`` from 1% to 2%, ``problem`` above 2%."""
    if rate is None:
        return "no_data"
    if rate < OPT_OUT_GOOD:
        return "good"
    if rate <= OPT_OUT_BAD:
        return "watch"
    return "problem"


@dataclass
class _Tally:
    sends: int = 0
    responses: int = 0
    conversions: int = 0
    revenue: float = 0.0
    opt_outs: int = 0
    decisions: int = 0
    quiet: int = 0
    frequency: int = 0

    def __post_init__(self) -> None:
        self.considered: set[int] = set()
        self.contacted: set[int] = set()
        self.dnc: set[str] = set()  # "lead:<id>" or "phone:<e164>"

    def figures(self) -> HealthFigures:
        opt_out_rate = safe_rate(self.opt_outs, self.sends)
        return HealthFigures(
            sends=self.sends,
            leads_considered=len(self.considered),
            leads_contacted=len(self.contacted),
            responses=self.responses,
            conversions=self.conversions,
            revenue=round(self.revenue, 2),
            opt_outs=self.opt_outs,
            decisions=self.decisions,
            dnc_suppressions=len(self.dnc),
            quiet_hour_deferrals=self.quiet,
            frequency_deferrals=self.frequency,
            response_rate=safe_rate(self.responses, self.sends),
            contact_rate=safe_rate(len(self.contacted), len(self.considered)),
            conversion_rate=safe_rate(self.conversions, self.sends),
            opt_out_rate=opt_out_rate,
            revenue_per_message=safe_rate(self.revenue, self.sends),
            opt_out_status=opt_out_status(opt_out_rate),
        )


def data_span(session: Session) -> Period | None:
    """The span of the store's activity (first to last event or decision), or None if empty.

    Rows dated outside ``READABLE_START`` … ``READABLE_END`` (a year-1 or year-9999 timestamp
    stored before validation existed: the ledger is append-only) are left out of the span, so
    that the periods and windows built from it stay representable."""
    lows: list[dt.datetime] = []
    highs: list[dt.datetime] = []
    for low, high in reports_repo.activity_bounds(
        session, readable_start=READABLE_START, readable_end=READABLE_END
    ):
        lows.append(low)
        highs.append(high)
    if not lows:
        return None
    start = min(lows).astimezone(dt.UTC)
    end = max(highs).astimezone(dt.UTC) + dt.timedelta(seconds=1)
    return Period(start=start, end=end)


def list_health(
    session: Session,
    *,
    period: Period,
    response_hours: int = DEFAULT_RESPONSE_HOURS,
    conversion_days: int = DEFAULT_CONVERSION_DAYS,
) -> HealthReport:
    """Response, contact, conversion and opt-out rates, deferrals and revenue, with weekly trend.

    - contact rate = leads that got at least one send / leads with a decision or send;
    - opt-out rate = opt-out messages received in the period / sends in the period;
    - DNC suppressions = distinct leads refused with a ``dnc.*`` reason (or suppressed for DNC);
    - quiet-hour / frequency deferrals = ``send_at``/``hold`` decisions with a
      ``quiet_hours*``/``banned_day*`` resp. ``frequency*`` reason.
    """
    response_window = dt.timedelta(hours=response_hours)
    conversion_window = dt.timedelta(days=conversion_days)
    sends = [
        s
        for s in load_sends(session, until=period.end, local_time=False)
        if s.occurred_at >= period.start
    ]
    outcome_end = period.end + max(response_window, conversion_window)
    outcomes = load_outcomes(
        session,
        start=period.start,
        end=outcome_end,
        types=RESPONSE_TYPES + CONVERSION_TYPES,
    )
    credited = credit_last_touch(
        sends, outcomes, response_window=response_window, conversion_window=conversion_window
    )
    total = _Tally()
    weekly: dict[dt.date, _Tally] = defaultdict(_Tally)

    for send in sends:
        for tally in (total, weekly[week_start(send.occurred_at)]):
            tally.sends += 1
            tally.considered.add(send.lead_id)
            tally.contacted.add(send.lead_id)
            tally.responses += send.event_id in credited.responded
            tally.conversions += send.event_id in credited.converted
            tally.revenue += credited.revenue.get(send.event_id, 0.0)
    for outcome in outcomes:
        if is_opt_out(outcome) and period.contains(outcome.occurred_at):
            total.opt_outs += 1
            weekly[week_start(outcome.occurred_at)].opt_outs += 1

    for lead_id, decided_at in reports_repo.decisions_in(
        session, start=period.start, end=period.end
    ):
        for tally in (total, weekly[week_start(decided_at)]):
            tally.decisions += 1
            tally.considered.add(lead_id)
    # Only deferrals and suppressions carry the reasons counted here: skip decoding the rest.
    deferred = reports_repo.decisions_with_reasons_in(
        session, start=period.start, end=period.end, actions=("send_at", "hold", "suppress")
    )
    for lead_id, decided_at, action, reasons, compliance in deferred:
        codes = reason_codes(reasons, compliance)
        for tally in (total, weekly[week_start(decided_at)]):
            if action in ("send_at", "hold"):
                tally.quiet += has_prefix(codes, QUIET_PREFIXES)
                tally.frequency += has_prefix(codes, FREQUENCY_PREFIXES)
            elif has_prefix(codes, DNC_PREFIXES):
                tally.dnc.add(f"lead:{lead_id}")
    dnc_rows = reports_repo.dnc_suppressions_in(session, start=period.start, end=period.end)
    for suppressed_lead, phone, created_at in dnc_rows:
        key = f"lead:{suppressed_lead}" if suppressed_lead is not None else f"phone:{phone}"
        total.dnc.add(key)
        weekly[week_start(created_at)].dnc.add(key)

    weeks = tuple(
        HealthWeek(week_start=start, figures=weekly[start].figures()) for start in sorted(weekly)
    )
    return HealthReport(
        period=period,
        figures=total.figures(),
        weeks=weeks,
        delivery=delivery_health(session, period),
        unmanaged=unmanaged_sends(session, period=period),
    )


def delivery_health(session: Session, period: Period) -> DeliveryHealth:
    finals, errors = receipts_in(session, start=period.start, end=period.end)
    delivered = finals.get("delivered", 0)
    receipts = sum(finals.values())
    by_variant = delivery_by_variant(session, start=period.start, end=period.end)
    labels = variant_labels(session, by_variant)
    rows = tuple(
        VariantDeliveryRow(
            experiment_id=labels[variant_id][0],
            variant_id=variant_id,
            variant=labels[variant_id][1],
            receipts=found.sends_with_receipt,
            delivered=found.delivered,
            delivery_rate=safe_rate(found.delivered, found.sends_with_receipt),
            content_flags=found.content_flags,
        )
        for variant_id, found in sorted(by_variant.items())
        if variant_id in labels
    )
    return DeliveryHealth(
        receipts=receipts,
        delivered=delivered,
        failed=receipts - delivered,
        delivery_rate=safe_rate(delivered, receipts),
        carrier_errors=dict(sorted(errors.items())),
        variants=rows,
    )


UNMANAGED_LISTED = 50


def unmanaged_sends(
    session: Session, *, period: Period, listed: int = UNMANAGED_LISTED
) -> UnmanagedSummary:
    """Sends made around the gate in ``period`` (``sent`` events stored with the ``unmanaged``
    flag by :func:`optimizer.ingest.events.ingest_events`), with the gate's verdict on each
    as of its time: how many it would have refused, by reason code, and the latest ``listed``."""
    rows = reports_repo.sends_with_meta_in(session, start=period.start, end=period.end)
    found: list[UnmanagedSend] = []
    by_reason: dict[str, int] = defaultdict(int)
    refused = 0
    for event_id, lead_id, occurred_at, meta in rows:
        if not meta or not meta.get(UNMANAGED_KEY):
            continue
        gate = meta.get(GATE_KEY) or {}
        allowed = gate.get("allowed")
        reasons = tuple(str(code) for code in gate.get("reasons") or ())
        if allowed is False:
            refused += 1
            for code in dict.fromkeys(reasons):
                by_reason[code] += 1
        found.append(UnmanagedSend(event_id, lead_id, occurred_at, allowed, reasons))
    return UnmanagedSummary(
        sends=len(found),
        would_refuse=refused,
        reasons=tuple(
            ReasonCount(code, count)
            for code, count in sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
        ),
        latest=tuple(found[:listed]),
    )
