"""The bulk, vectorised path: evaluate a whole cadence policy over every form fill at once.

Used by ``optimizer simulate run`` (the default run and its rates) and the simulator benchmark
(100,000 leads x 30 days). Touches are processed in order, each one vectorised over all leads,
so an opt-out after touch k stops touches k+1... exactly as an honest engine would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.simulation.checker import BANNED_DAY, QUIET_HOURS
from optimizer.simulation.geography import DAY, HOUR
from optimizer.simulation.outcomes import VariantArrays, draw, probabilities
from optimizer.simulation.population import _local_to_utc
from optimizer.simulation.world import World


@dataclass(frozen=True)
class CadencePolicy:
    """A plain sequence: a first text soon after the form fill, then follow-ups at a local hour."""

    first_touch_minutes: float = 2.0
    follow_up_days: tuple[int, ...] = (2, 5, 9)
    follow_up_local_hour: int = 10
    honour_opt_outs: bool = True
    legal_only: bool = True  # move each text to the next legal time (the checker's view)
    consented_only: bool = True


@dataclass(frozen=True)
class BulkReport:
    leads: int
    texts: int
    delivered: int
    recipients: int
    replies: int
    clicks: int
    conversions: int
    revenue: float
    opt_outs: int
    reply_rate: float
    reply_rate_by_touch: tuple[float, ...]
    first_touch_within_5min_share: float
    reply_rate_first_touch_within_5min: float
    speed_to_lead_ratio_5_vs_30min: float  # P(reply) at 5 min / at 30 min after the form fill
    response_rate: float  # texts with a reply or a click / delivered
    engaged_leads: int
    conversion_rate_engaged: float
    revenue_per_message: float
    opt_out_rate: float  # opted-out leads / leads texted
    violations: dict[str, int]
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def simulate_cadence(world: World, policy: CadencePolicy | None = None) -> BulkReport:
    started = time.perf_counter()
    policy = policy or CadencePolicy()
    config, pop, clock, checker = world.config, world.population, world.clock, world.checker
    rng = np.random.default_rng([config.seed, 2])
    leads = world.arrivals()
    if policy.consented_only:
        leads = leads[pop.consent[leads]]
    n = len(leads)
    area, zones = pop.area_idx[leads], pop.cand_zones[leads]
    created = pop.created_at[leads]
    names = np.array([v.name for v in config.variants])
    opt_out_at = np.full(n, np.iinfo(np.int64).max)
    texted = np.zeros(n, dtype=bool)
    engaged = np.zeros(n, dtype=bool)
    converted = np.zeros(n, dtype=bool)
    history: list[np.ndarray] = []
    totals = dict.fromkeys(
        ("texts", "delivered", "replies", "clicks", "responses", "conversions"), 0
    )
    revenue = 0.0
    by_touch: list[float] = []
    violations = {"quiet_hours": 0, "banned_day": 0, "after_opt_out": 0, "no_consent": 0}
    fast = np.zeros(n, dtype=bool)
    fast_reply = np.zeros(n, dtype=bool)
    created_local_day = clock.local(pop.zone_idx[leads], created) // DAY
    for k in range(1 + len(policy.follow_up_days)):
        if k == 0:
            planned = created + int(policy.first_touch_minutes * 60)
        else:
            local = (created_local_day + policy.follow_up_days[k - 1]) * DAY
            local += policy.follow_up_local_hour * HOUR
            planned = _local_to_utc(clock, pop.zone_idx[leads], local)
        at = checker.next_legal(area, zones, planned) if policy.legal_only else planned
        send = at >= 0
        if policy.honour_opt_outs:
            send &= opt_out_at > at
        idx = np.nonzero(send)[0]
        t = at[idx]
        window = config.fatigue_window_days * DAY
        prior = np.zeros(len(idx))
        for earlier in history:
            prior += (earlier[idx] >= 0) & (earlier[idx] > t - window) & (earlier[idx] < t)
        variant = names[rng.integers(0, len(names), size=len(idx))]
        drawn = draw(
            config, pop, clock, rng, leads[idx], t, VariantArrays.of(config, variant), prior
        )
        status = checker.time_status(area[idx], zones[idx], t)
        violations["quiet_hours"] += int(((status == QUIET_HOURS) & drawn.delivered).sum())
        violations["banned_day"] += int(((status == BANNED_DAY) & drawn.delivered).sum())
        violations["after_opt_out"] += int((drawn.delivered & (opt_out_at[idx] <= t)).sum())
        violations["no_consent"] += int((drawn.delivered & ~pop.consent[leads[idx]]).sum())
        record = np.full(n, -1, dtype=np.int64)
        record[idx[drawn.delivered]] = t[drawn.delivered]
        history.append(record)
        texted[idx[drawn.delivered]] = True
        opt_out_at[idx[drawn.opt_out]] = np.minimum(
            opt_out_at[idx[drawn.opt_out]], drawn.opt_out_at[drawn.opt_out]
        )
        responded = drawn.reply | drawn.click
        engaged[idx[responded]] = True
        new_conv = drawn.conversion & ~converted[idx]
        converted[idx[new_conv]] = True
        revenue += float(drawn.revenue[new_conv].sum())
        totals["texts"] += len(idx)
        totals["delivered"] += int(drawn.delivered.sum())
        totals["replies"] += int(drawn.reply.sum())
        totals["clicks"] += int(drawn.click.sum())
        totals["responses"] += int(responded.sum())
        totals["conversions"] += int(new_conv.sum())
        by_touch.append(float(drawn.reply.sum() / max(drawn.delivered.sum(), 1)))
        if k == 0:
            fast[idx] = (t - created[idx]) <= 5 * 60
            fast_reply[idx] = drawn.reply
    sample = leads[: min(n, 20000)]
    at5 = probabilities(
        config,
        pop,
        clock,
        sample,
        pop.created_at[sample] + 300,
        VariantArrays.neutral(len(sample)),
        np.zeros(len(sample)),
    )
    at30 = probabilities(
        config,
        pop,
        clock,
        sample,
        pop.created_at[sample] + 1800,
        VariantArrays.neutral(len(sample)),
        np.zeros(len(sample)),
    )
    delivered = totals["delivered"]
    recipients = int(texted.sum())
    opted = int((opt_out_at < np.iinfo(np.int64).max).sum())
    return BulkReport(
        leads=n,
        texts=totals["texts"],
        delivered=delivered,
        recipients=recipients,
        replies=totals["replies"],
        clicks=totals["clicks"],
        conversions=totals["conversions"],
        revenue=round(revenue, 2),
        opt_outs=opted,
        reply_rate=totals["replies"] / delivered if delivered else 0.0,
        reply_rate_by_touch=tuple(round(r, 4) for r in by_touch),
        first_touch_within_5min_share=float(fast.mean()) if n else 0.0,
        reply_rate_first_touch_within_5min=float(fast_reply[fast].mean()) if fast.any() else 0.0,
        speed_to_lead_ratio_5_vs_30min=float(at5.reply.mean() / max(at30.reply.mean(), 1e-12)),
        response_rate=totals["responses"] / delivered if delivered else 0.0,
        engaged_leads=int(engaged.sum()),
        conversion_rate_engaged=float(converted[engaged].mean()) if engaged.any() else 0.0,
        revenue_per_message=revenue / totals["texts"] if totals["texts"] else 0.0,
        opt_out_rate=opted / recipients if recipients else 0.0,
        violations=violations,
        seconds=round(time.perf_counter() - started, 3),
    )
