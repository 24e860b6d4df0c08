"""The world loop: drive an engine (the demo's, the naive one, a test double) through the world.

Each tick ``[now, now + tick)``: outcomes that happened up to ``now`` are passed to
``engine.observe``; form fills of the tick are registered (``register_lead(lead, created_at)``);
``engine.due_sends(now, until)`` returns the texts it sends in the tick; the world applies the
variant's true effect (by name), the lead's local hour-of-week responsiveness, speed to lead and
fatigue, and the independent checker counts every delivered text in quiet hours, on a banned
day, after an opt-out or without consent. An opt-out that happened inside the same tick, before
the engine could see it, is counted apart (``unseen_opt_out_texts``), not as a violation.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from optimizer.errors import InvalidInput
from optimizer.simulation.checker import BANNED_DAY, QUIET_HOURS, VIOLATION_KINDS
from optimizer.simulation.geography import DAY, from_epoch, to_epoch
from optimizer.simulation.outcomes import VariantArrays, draw
from optimizer.simulation.world import SimLead, World

OUTCOME_TYPES = ("reply", "click", "conversion", "opt_out", "inbound")


@dataclass(frozen=True)
class SendRequest:
    lead_key: str
    at: dt.datetime  # UTC
    variant: str
    text: str
    marketing: bool = True


@dataclass(frozen=True)
class Outcome:
    lead_key: str
    type: str  # reply | click | conversion | opt_out | inbound
    at: dt.datetime
    text: str | None = None
    value: float | None = None
    variant: str | None = None  # the variant of the text that earned it


class Engine(Protocol):
    def register_lead(self, lead: SimLead, now: dt.datetime) -> None: ...

    def due_sends(self, now: dt.datetime, until: dt.datetime) -> list[SendRequest]: ...

    def observe(self, outcome: Outcome) -> None: ...


@dataclass
class VariantCounts:
    sent: int = 0
    delivered: int = 0
    replies: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0
    opt_outs: int = 0


@dataclass(frozen=True)
class WorldReport:
    leads_registered: int
    texts_sent: int
    marketing_texts: int
    delivered: int
    failed: int
    recipients: int
    replies: int
    clicks: int
    conversions: int
    revenue: float
    opt_outs: int
    reply_rate: float  # replies / delivered marketing texts
    conversion_rate_engaged: float  # converting leads / leads that replied or clicked
    revenue_per_message: float  # revenue / marketing texts sent
    opt_out_rate: float  # opted-out leads / leads texted
    violations: dict[str, int]  # by kind, from the independent checker
    violation_count: int
    unseen_opt_out_texts: int  # texts after an opt-out the engine could not have seen yet
    per_variant: dict[str, VariantCounts] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        out = {k: v for k, v in self.__dict__.items() if k != "per_variant"}
        out["per_variant"] = {k: dict(v.__dict__) for k, v in self.per_variant.items()}
        return out


@dataclass
class _RunState:
    sends: dict[int, list[int]] = field(default_factory=dict)
    opt_out_at: dict[int, int] = field(default_factory=dict)
    confirmed: set[int] = field(default_factory=set)
    engaged: set[int] = field(default_factory=set)
    converted: set[int] = field(default_factory=set)
    violations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VIOLATION_KINDS, 0))
    unseen: int = 0
    per_variant: dict[str, VariantCounts] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    revenue: float = 0.0


def run_world(
    world: World,
    engine: Engine,
    *,
    start: dt.datetime,
    days: int,
    tick: dt.timedelta = dt.timedelta(minutes=5),
    progress: Callable[[int, int], None] | None = None,
) -> WorldReport:
    """Run ``engine`` for ``days`` from ``start``; ``progress(ticks_done, ticks_total)``."""
    step = int(tick.total_seconds())
    if step <= 0:
        raise InvalidInput(f"tick {tick!r} is not positive (e.g. 5 minutes expected)", field="tick")
    config, pop = world.config, world.population
    rng = np.random.default_rng([config.seed, 1])
    t0 = to_epoch(start)
    end = t0 + days * DAY
    arrivals = [i for i in world.arrivals() if t0 <= pop.created_at[i] < end]
    arrived = np.zeros(pop.size, dtype=bool)
    arrived[pop.created_at < t0] = True
    queue: list[tuple[int, int, Outcome, int]] = []
    state = _RunState()
    seq = 0
    next_arrival = 0
    total = max((end - t0 + step - 1) // step, 1)
    for k, now in enumerate(range(t0, end, step)):
        until = min(now + step, end)
        while queue and queue[0][0] <= now:
            _, _, outcome, lead = heapq.heappop(queue)
            opted = state.opt_out_at.get(lead)
            if (
                outcome.type in ("reply", "click", "inbound")
                and opted is not None
                and to_epoch(outcome.at) > opted
            ):
                continue
            _count_outcome(state, outcome, lead)
            engine.observe(outcome)
        while next_arrival < len(arrivals) and pop.created_at[arrivals[next_arrival]] < until:
            i = arrivals[next_arrival]
            arrived[i] = True
            engine.register_lead(world.lead(int(i)), from_epoch(pop.created_at[i]))
            next_arrival += 1
        requests = engine.due_sends(from_epoch(now), from_epoch(until))
        if requests:
            for item in _process(world, state, rng, requests, now, until, arrived):
                seq += 1
                heapq.heappush(queue, (item[0], seq, item[1], item[2]))
        if progress is not None:
            progress(k + 1, total)
    # Consequences after the end still count in the report (the engine no longer observes them).
    while queue:
        _, _, outcome, lead = heapq.heappop(queue)
        opted = state.opt_out_at.get(lead)
        if (
            outcome.type in ("reply", "click", "inbound")
            and opted is not None
            and to_epoch(outcome.at) > opted
        ):
            continue
        _count_outcome(state, outcome, lead)
    return _report(state, len(arrivals))


def _count_outcome(state: _RunState, outcome: Outcome, lead: int) -> None:
    state.counts[outcome.type] = state.counts.get(outcome.type, 0) + 1
    counts = state.per_variant.setdefault(outcome.variant or "", VariantCounts())
    if outcome.type == "reply":
        counts.replies += 1
        state.engaged.add(lead)
    elif outcome.type == "click":
        counts.clicks += 1
        state.engaged.add(lead)
    elif outcome.type == "conversion":
        counts.conversions += 1
        counts.revenue += float(outcome.value or 0.0)
        state.revenue += float(outcome.value or 0.0)
        state.converted.add(lead)
    elif outcome.type == "opt_out":
        counts.opt_outs += 1


def _process(
    world: World,
    state: _RunState,
    rng: np.random.Generator,
    requests: list[SendRequest],
    now: int,
    until: int,
    arrived: np.ndarray,
) -> list[tuple[int, Outcome, int]]:
    config, pop = world.config, world.population
    rows: list[tuple[int, int, SendRequest]] = []
    for request in requests:
        lead = world.lead_index(request.lead_key)
        at = to_epoch(request.at)
        if at >= until:
            raise InvalidInput(
                f"send at {request.at.isoformat()} is not inside the tick "
                f"[{from_epoch(now).isoformat()}, {from_epoch(until).isoformat()}) (due_sends contract)",
                field="at",
            )
        at = max(at, now)
        if not arrived[lead] or at < pop.created_at[lead]:
            raise InvalidInput(
                f"lead {request.lead_key!r} has not filled its form yet at {from_epoch(at).isoformat()}",
                field="lead_key",
            )
        rows.append((at, lead, request))
    rows.sort(key=lambda r: r[0])
    at_arr = np.array([r[0] for r in rows], dtype=np.int64)
    lead_arr = np.array([r[1] for r in rows], dtype=np.int64)
    window = int(config.fatigue_window_days * DAY)
    prior = np.array(
        [
            sum(1 for s in state.sends.get(int(i), ()) if a - window < s <= a)
            for a, i in zip(at_arr, lead_arr, strict=True)
        ],
        dtype=float,
    )
    variants = VariantArrays.of(config, [r[2].variant for r in rows])
    drawn = draw(config, pop, world.clock, rng, lead_arr, at_arr, variants, prior)
    status = world.checker.time_status(pop.area_idx[lead_arr], pop.cand_zones[lead_arr], at_arr)
    out: list[tuple[int, Outcome, int]] = []
    for j, (at, lead, request) in enumerate(rows):
        counts = state.per_variant.setdefault(request.variant, VariantCounts())
        counts.sent += 1
        state.counts["sent"] = state.counts.get("sent", 0) + 1
        if request.marketing:
            state.counts["marketing"] = state.counts.get("marketing", 0) + 1
        if not drawn.delivered[j]:
            state.counts["failed"] = state.counts.get("failed", 0) + 1
            continue
        counts.delivered += 1
        state.counts["delivered"] = state.counts.get("delivered", 0) + 1
        state.sends.setdefault(lead, []).append(at)
        opted = state.opt_out_at.get(lead)
        if opted is not None and opted <= at:
            grace = config.confirmation_grace_minutes * 60
            if not request.marketing and lead not in state.confirmed and at - opted <= grace:
                state.confirmed.add(lead)
            elif opted <= now:
                state.violations["after_opt_out"] += 1
            else:
                state.unseen += 1
            continue  # an opted-out lead does not respond any more
        if request.marketing and not pop.consent[lead]:
            state.violations["no_consent"] += 1
        if request.marketing and status[j] == QUIET_HOURS:
            state.violations["quiet_hours"] += 1
        if request.marketing and status[j] == BANNED_DAY:
            state.violations["banned_day"] += 1
        if not request.marketing:
            continue
        key, variant = request.lead_key, request.variant
        if drawn.opt_out[j]:
            t = int(drawn.opt_out_at[j])
            state.opt_out_at[lead] = min(t, state.opt_out_at.get(lead, t))
            text = config.opt_out_texts[drawn.opt_out_text[j]]
            out.append((t, Outcome(key, "opt_out", from_epoch(t), text, None, variant), lead))
            continue
        if drawn.reply[j]:
            t = int(drawn.reply_at[j])
            text = config.reply_texts[drawn.reply_text[j]]
            out.append((t, Outcome(key, "reply", from_epoch(t), text, None, variant), lead))
        if drawn.click[j]:
            t = int(drawn.click_at[j])
            out.append((t, Outcome(key, "click", from_epoch(t), None, None, variant), lead))
        if drawn.conversion[j] and lead not in state.converted:
            t = int(drawn.conversion_at[j])
            value = float(drawn.revenue[j])
            state.converted.add(lead)
            out.append((t, Outcome(key, "conversion", from_epoch(t), None, value, variant), lead))
        if drawn.inbound[j]:
            t = int(drawn.inbound_at[j])
            text = config.inbound_texts[drawn.inbound_text[j]]
            out.append((t, Outcome(key, "inbound", from_epoch(t), text, None, variant), lead))
    return out


def _report(state: _RunState, registered: int) -> WorldReport:
    c = state.counts
    marketing = c.get("marketing", 0)
    delivered = c.get("delivered", 0)
    recipients = len(state.sends)
    opt_outs = c.get("opt_out", 0)
    violations = dict(state.violations)
    return WorldReport(
        leads_registered=registered,
        texts_sent=c.get("sent", 0),
        marketing_texts=marketing,
        delivered=delivered,
        failed=c.get("failed", 0),
        recipients=recipients,
        replies=c.get("reply", 0),
        clicks=c.get("click", 0),
        conversions=c.get("conversion", 0),
        revenue=round(state.revenue, 2),
        opt_outs=opt_outs,
        reply_rate=c.get("reply", 0) / delivered if delivered else 0.0,
        conversion_rate_engaged=(
            len(state.converted & state.engaged) / len(state.engaged) if state.engaged else 0.0
        ),
        revenue_per_message=state.revenue / marketing if marketing else 0.0,
        opt_out_rate=opt_outs / recipients if recipients else 0.0,
        violations=violations,
        violation_count=sum(violations.values()),
        unseen_opt_out_texts=state.unseen,
        per_variant=dict(state.per_variant),
    )
