"""Write a world's past into the store through the service layer the API uses.

Leads (``upsert_lead``), their consent (``add_consent``) and every past event (``ingest_events``,
batched): engagement history (email_open, click, visit, purchase) and the marketing texts of a
*logging policy* that sent at a uniformly random legal hour with a uniformly random variant (its
slot and variant propensities are kept in the event's ``meta``), with the replies, clicks,
conversions and opt-out texts those texts earned. Training pipelines read it like real data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.ingest.events import EventInput, ingest_events
from optimizer.ingest.leads import ConsentInput, LeadInput, add_consent, upsert_lead
from optimizer.settings import Settings
from optimizer.simulation.checker import OK
from optimizer.simulation.geography import DAY, HOUR, from_epoch, to_epoch
from optimizer.simulation.outcomes import VariantArrays, draw
from optimizer.simulation.population import HISTORY_CHANNELS, HISTORY_TYPES, _local_to_utc
from optimizer.simulation.world import SimLead, World
from optimizer.store.db import Session
from optimizer.store.models import Lead

TEMPLATES = {
    "plain": "{brand}: thanks for your interest in {product}. Reply to book a time. Reply STOP to opt out.",
    "personal": "{brand}: hi {name}, it's Sam. Still looking at {product}? I can help today. Reply STOP to opt out.",
    "urgency": "{brand}: {name}, 20% off {product} ends Friday. Tap to claim: https://ex.co/o Reply STOP to opt out.",
}
BATCH = 2000


@dataclass(frozen=True)
class HistorySummary:
    leads: int
    consents: int
    events: int
    sends: int
    replies: int
    clicks: int
    conversions: int
    opt_outs: int
    lead_ids: dict[str, int]


def render(world: World, lead: int, variant: str, brand: str) -> str:
    pop = world.population
    template = TEMPLATES.get(variant, "{brand}: news about {product}. Reply STOP to opt out.")
    return template.format(
        brand=brand,
        name=pop.first_names[lead] or "there",
        product=pop.products[lead] or "our services",
    )


def logging_sends(
    world: World, idx: np.ndarray, now: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lead index, send time, slot propensity): Poisson(history_sends_mean) texts per lead,
    each on a random day between its creation and ``now`` at a uniformly random legal hour."""
    pop, clock, checker = world.population, world.clock, world.checker
    per_lead = rng.poisson(world.config.history_sends_mean, size=len(idx))
    lead = np.repeat(idx, per_lead)
    if len(lead) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    created = pop.created_at[lead]
    span = np.maximum(now - created - HOUR, HOUR)
    base = created + (rng.random(len(lead)) * span).astype(np.int64)
    zone = pop.zone_idx[lead]
    day = clock.local(zone, base) // DAY
    hours = np.arange(0, 24)
    at = np.full(len(lead), -1, dtype=np.int64)
    propensity = np.zeros(len(lead))
    for shift in range(0, 4):
        todo = np.nonzero(at < 0)[0]
        if len(todo) == 0:
            break
        local = (
            (day[todo, None] + shift) * DAY
            + hours[None, :] * HOUR
            + 60 * rng.integers(0, 50, size=(len(todo), 1))
        )
        utc = _local_to_utc(clock, np.repeat(zone[todo], 24), local.ravel()).reshape(local.shape)
        status = checker.time_status(
            np.repeat(pop.area_idx[lead[todo]], 24),
            np.repeat(pop.cand_zones[lead[todo]], 24, axis=0),
            utc.ravel(),
        ).reshape(utc.shape)
        allowed = (status == OK) & (utc > created[todo, None]) & (utc < now)
        count = allowed.sum(axis=1)
        has = count > 0
        pick = (rng.random(len(todo)) * np.maximum(count, 1)).astype(np.int64)
        cum = np.cumsum(allowed, axis=1)
        col = (cum <= pick[:, None]).sum(axis=1).clip(0, 23)
        chosen = utc[np.arange(len(todo)), col]
        at[todo[has]] = chosen[has]
        propensity[todo[has]] = 1.0 / count[has]
    keep = at >= 0
    order = np.lexsort((at[keep], lead[keep]))
    return lead[keep][order], at[keep][order], propensity[keep][order]


def register_sim_lead(
    session: Session, sim: SimLead, *, brand: str, now: dt.datetime
) -> tuple[Lead, bool]:
    """A form fill into the store through the service layer: the lead, and its consent record
    when the form carried one. Returns the lead and whether consent was recorded."""
    result = upsert_lead(
        session,
        data=LeadInput(
            external_id=sim.external_id,
            phone=sim.phone,
            email=sim.email,
            state=sim.state,
            postal_code=sim.postal_code,
            timezone=sim.timezone,
            source=sim.source,
            vertical=sim.vertical,
            attributes=dict(sim.attributes),
            created_at=sim.created_at,
        ),
        now=now,
    )
    if not (sim.consent_given and sim.consent_at is not None):
        return result.lead, False
    add_consent(
        session,
        lead=result.lead,
        data=ConsentInput(
            granted_at=sim.consent_at,
            method=sim.consent_method or "web",
            brand=brand,
            disclosure=sim.consent_disclosure or "",
            evidence={"page_url": f"https://example.com/{sim.source}", "ip": "203.0.113.7"},
            checkbox_unchecked_by_default=True,
            state_of_residence=sim.state,
        ),
        now=max(now, sim.consent_at),
    )
    return result.lead, True


def write_history(
    session: Session,
    world: World,
    *,
    leads: int | Sequence[str] | None,
    settings: Settings,
    now: dt.datetime,
    delivery_receipts: bool = True,
) -> HistorySummary:
    """Write ``leads`` (a count of the world's existing leads, their keys, or None = all) with
    consent and past events, as of ``now`` (``delivery_receipts=False`` skips the ``delivered``
    events, a third of the volume, when only training needs the history)."""
    pop, config = world.population, world.config
    existing = world.existing()
    if leads is None:
        idx = existing
    elif isinstance(leads, int):
        idx = existing[: max(leads, 0)]
    else:
        idx = np.array([world.lead_index(k) for k in leads], dtype=np.int64)
    t_now = to_epoch(now)
    idx = idx[pop.created_at[idx] < t_now]
    brand = settings.brand_name
    lead_ids: dict[str, int] = {}
    consents = 0
    for i in idx:
        sim = world.lead(int(i))
        stored, consented = register_sim_lead(session, sim, brand=brand, now=now)
        lead_ids[sim.external_id] = stored.id
        consents += int(consented)
    events: list[EventInput] = []
    keys = pop.keys
    # Engagement history.
    sel = np.isin(pop.history_lead, idx) & (pop.history_at < t_now)
    for e in np.nonzero(sel)[0].tolist():
        owner = int(pop.history_lead[e])
        kind = int(pop.history_type[e])
        events.append(
            EventInput(
                idempotency_key=f"{keys[owner]}:hist:{e}",
                lead_id=lead_ids[str(keys[owner])],
                type=HISTORY_TYPES[kind],
                channel=HISTORY_CHANNELS[kind],
                occurred_at=from_epoch(pop.history_at[e]),
                value=float(pop.history_value[e]) if kind == 3 else None,
                marketing=False,
            )
        )
    # The logging policy's texts (consented leads only) and what they earned.
    rng = np.random.default_rng([config.seed, 3])
    consented = idx[pop.consent[idx]]
    lead, at, slot_p = logging_sends(world, consented, t_now, rng)
    names = [v.name for v in config.variants]
    variant = np.array(names)[rng.integers(0, len(names), size=len(lead))]
    counts = {"sends": 0, "replies": 0, "clicks": 0, "conversions": 0, "opt_outs": 0}
    opted: dict[int, int] = {}
    converted: set[int] = set()
    window = int(config.fatigue_window_days * DAY)
    prior = np.zeros(len(lead))
    for j in range(1, len(lead)):
        k = j - 1
        while k >= 0 and lead[k] == lead[j] and at[j] - at[k] < window:
            prior[j] += 1
            k -= 1
    drawn = draw(config, pop, world.clock, rng, lead, at, VariantArrays.of(config, variant), prior)
    for j in range(len(lead)):
        i = int(lead[j])
        if i in opted and opted[i] <= at[j]:
            continue
        key, lead_id = str(keys[i]), lead_ids[str(keys[i])]
        base = f"{key}:log:{j}"
        sent_at = from_epoch(at[j])
        meta = {
            "variant": str(variant[j]),
            "policy": "logging",
            "slot_propensity": float(slot_p[j]),
            "variant_propensity": 1.0 / len(names),
        }
        events.append(
            EventInput(
                f"{base}:sent",
                lead_id,
                "sent",
                "sms",
                sent_at,
                text=render(world, i, str(variant[j]), brand),
                marketing=True,
                meta=meta,
            )
        )
        counts["sends"] += 1
        if not drawn.delivered[j]:
            events.append(
                EventInput(
                    f"{base}:failed", lead_id, "failed", "sms", sent_at + dt.timedelta(seconds=5)
                )
            )
            continue
        if delivery_receipts:
            events.append(
                EventInput(
                    f"{base}:delivered",
                    lead_id,
                    "delivered",
                    "sms",
                    sent_at + dt.timedelta(seconds=5),
                )
            )
        outcome_meta = {"variant": str(variant[j])}

        def add(
            kind: str,
            when: int,
            *,
            text: str | None = None,
            value: float | None = None,
            channel: str = "sms",
            _base: str = base,
            _id: int = lead_id,
            _meta: dict[str, str] = outcome_meta,
        ) -> None:
            if when < t_now:
                events.append(
                    EventInput(
                        f"{_base}:{kind}",
                        _id,
                        kind,
                        channel,
                        from_epoch(when),
                        text=text,
                        value=value,
                        marketing=False,
                        meta=_meta,
                    )
                )

        if drawn.opt_out[j]:
            when = int(drawn.opt_out_at[j])
            if when < t_now:
                opted[i] = when
                counts["opt_outs"] += 1
            add("inbound", when, text=config.opt_out_texts[drawn.opt_out_text[j]])
            continue
        if drawn.reply[j] and drawn.reply_at[j] < t_now:
            counts["replies"] += 1
            add("reply", int(drawn.reply_at[j]), text=config.reply_texts[drawn.reply_text[j]])
        if drawn.click[j] and drawn.click_at[j] < t_now:
            counts["clicks"] += 1
            add("click", int(drawn.click_at[j]))
        if drawn.conversion[j] and i not in converted and drawn.conversion_at[j] < t_now:
            converted.add(i)
            counts["conversions"] += 1
            add("conversion", int(drawn.conversion_at[j]), value=float(drawn.revenue[j]))
    events.sort(key=lambda e: e.occurred_at)
    for start in range(0, len(events), BATCH):
        ingest_events(session, events=events[start : start + BATCH], settings=settings, now=now)
    return HistorySummary(
        leads=len(idx),
        consents=consents,
        events=len(events),
        lead_ids=lead_ids,
        **counts,
    )
