"""The naive engine: Day 0 / 4 / 8 at 10:00 local, a uniformly random variant, no scoring.

It keeps its own store (written through the same service layer) and asks the same gate before
every text, so the comparison with our engine is about the decisions, not about compliance.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from optimizer.compliance import evaluate
from optimizer.compliance.recipient import recipient_of
from optimizer.compliance.store_context import build_context
from optimizer.decide.render import LeadFacts, lead_tokens, render
from optimizer.ingest.events import EventInput, ingest_events
from optimizer.settings import Settings
from optimizer.simulation import Outcome, SendRequest, SimLead
from optimizer.simulation.history import register_sim_lead
from optimizer.store.db import SessionFactory
from optimizer.store.events_repo import add_event
from optimizer.store.leads_repo import lead_by_id

CADENCE_DAYS = (0, 4, 8)
SEND_HOUR = 10
PERMANENT = ("phone.", "consent.", "suppressed.", "dnc.")


@dataclass
class NaiveCounters:
    attempts: int = 0
    sent: int = 0
    quiet_hour_deferrals: int = 0
    frequency_deferrals: int = 0
    blocked: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class NaiveEngine:
    def __init__(
        self,
        sessions: SessionFactory,
        *,
        settings: Settings,
        variants: tuple[tuple[str, str], ...],
        fallback_variant: str,
        seed: int,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.variants = variants
        self.fallback = fallback_variant
        self.rng = np.random.default_rng(seed)
        self.lead_ids: dict[str, int] = {}
        self.counters = NaiveCounters()
        self._queue: list[tuple[dt.datetime, int, str, int]] = []
        self._seq = itertools.count()
        self._event_seq = itertools.count()

    def register_lead(self, lead: SimLead, now: dt.datetime) -> None:
        with self.sessions.begin() as session:
            lead_row, _ = register_sim_lead(session, lead, brand=self.settings.brand_name, now=now)
            self.lead_ids[lead.external_id] = lead_row.id
            zone = recipient_of(lead.phone, lead.timezone, lead.state).model_zone
        local = lead.created_at.astimezone(ZoneInfo(zone))
        day0 = local.replace(hour=SEND_HOUR, minute=0, second=0, microsecond=0)
        if day0 <= local:
            day0 += dt.timedelta(days=1)
        for step, offset in enumerate(CADENCE_DAYS):
            at = (day0 + dt.timedelta(days=offset)).astimezone(dt.UTC)
            heapq.heappush(self._queue, (at, next(self._seq), lead.external_id, step))

    def due_sends(self, now: dt.datetime, until: dt.datetime) -> list[SendRequest]:
        sends: list[SendRequest] = []
        while self._queue and self._queue[0][0] < until:
            at, _, key, step = heapq.heappop(self._queue)
            at = max(at, now)
            sent = self._attempt(key, step, at)
            if sent is not None:
                sends.append(sent)
        return sends

    def _attempt(self, key: str, step: int, at: dt.datetime) -> SendRequest | None:
        self.counters.attempts += 1
        name, template = self.variants[int(self.rng.integers(len(self.variants)))]
        with self.sessions.begin() as session:
            lead = lead_by_id(session, self.lead_ids[key])
            assert lead is not None
            tokens = lead_tokens(
                lead.attributes or {},
                LeadFacts(created_at=lead.created_at),
                at,
                brand=self.settings.brand_name,
            )
            rendered = render(template, tokens)
            if not rendered.ok:
                name, template = next(v for v in self.variants if v[0] == self.fallback)
                rendered = render(template, tokens)
            assert rendered.text is not None
            context = build_context(
                session,
                lead=lead,
                message=rendered.text,
                send_at=at,
                now=at,
                settings=self.settings,
            )
            verdict = evaluate(context)
            codes = [r.code for r in verdict.reasons]
            for code in codes:
                top = code.split(".")[0]
                self.counters.reasons[top] = self.counters.reasons.get(top, 0) + 1
            if not verdict.allowed:
                if (
                    any(code.startswith(PERMANENT) for code in codes)
                    or verdict.next_allowed_at is None
                ):
                    self.counters.blocked += 1
                    return None
                if any(code.startswith(("quiet_hours", "banned_day")) for code in codes):
                    self.counters.quiet_hour_deferrals += 1
                if any(code.startswith("frequency") for code in codes):
                    self.counters.frequency_deferrals += 1
                heapq.heappush(self._queue, (verdict.next_allowed_at, next(self._seq), key, step))
                return None
            add_event(
                session,
                idempotency_key=f"naive-{key}-{step}-{next(self._event_seq)}",
                lead_id=lead.id,
                type="sent",
                channel="sms",
                occurred_at=at,
                recorded_at=at,
                text=rendered.text,
                marketing=True,
                meta={"variant": name, "step": step},
            )
        self.counters.sent += 1
        return SendRequest(lead_key=key, at=at, variant=name, text=rendered.text)

    def observe(self, outcome: Outcome) -> None:
        lead_id = self.lead_ids.get(outcome.lead_key)
        if lead_id is None:
            return
        kind = {"opt_out": "inbound"}.get(outcome.type, outcome.type)
        with self.sessions.begin() as session:
            ingest_events(
                session,
                events=[
                    EventInput(
                        idempotency_key=f"naive-out-{outcome.lead_key}-{next(self._event_seq)}",
                        lead_id=lead_id,
                        type=kind,
                        channel="sms",
                        occurred_at=outcome.at,
                        text=outcome.text,
                        value=outcome.value,
                    )
                ],
                settings=self.settings,
                now=outcome.at,
            )
