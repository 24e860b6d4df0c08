"""Generate simulated leads in bulk: who they are, when they arrive, their history, their truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.simulation.config import PERSONAS, SimConfig
from optimizer.simulation.geography import (
    DAY,
    HOUR,
    ZoneClock,
    area_codes,
    candidate_zones,
    generate_phones,
)
from optimizer.simulation.responsiveness import lead_curves, mixture_cdfs

FIRST_NAMES = (
    "Maria",
    "James",
    "Ana",
    "Robert",
    "Linda",
    "Michael",
    "Jennifer",
    "David",
    "Sofia",
    "William",
    "Aisha",
    "Carlos",
    "Emily",
    "Daniel",
    "Grace",
    "Kevin",
    "Priya",
    "Jose",
    "Olivia",
    "Brian",
    "Mei",
    "Luis",
    "Hannah",
    "Tyrone",
    "Fatima",
    "Ethan",
    "Chloe",
    "Omar",
    "Rachel",
    "Andre",
    "Nadia",
    "Paul",
    "Keisha",
    "Victor",
    "Laura",
    "Samuel",
    "Yuki",
    "Diego",
)
HISTORY_TYPES = ("email_open", "click", "visit", "purchase")
HISTORY_CHANNELS = ("email", "email", "webchat", "webchat")


@dataclass(frozen=True)
class Population:
    """Leads as parallel arrays (index i is one lead); latent truth lives here, not in SimLead."""

    keys: np.ndarray  # object (str)
    created_at: np.ndarray  # int64 epoch seconds
    phones: np.ndarray  # object (E.164)
    area_idx: np.ndarray  # int64 into area_codes()
    zone_idx: np.ndarray  # int64 into area_codes().zone_names: where the lead really is
    cand_zones: np.ndarray  # (n, width) every zone the number may be in (-1 pads)
    state_known: np.ndarray  # bool: the form gave the state
    emails: np.ndarray  # object (str or None)
    first_names: np.ndarray  # object (str or None)
    products: np.ndarray  # object (str or None)
    vertical_idx: np.ndarray
    source_idx: np.ndarray
    consent: np.ndarray  # bool
    persona_weights: np.ndarray  # (n, 4)
    curves: np.ndarray  # (n, 168) float32, local hour-of-week responsiveness
    engagement: np.ndarray  # reply tendency multiplier
    propensity_logit: np.ndarray  # latent conversion propensity (logit)
    revenue_mean: np.ndarray
    # Engagement history (events before the reference time).
    history_lead: np.ndarray  # int64 lead index
    history_type: np.ndarray  # int64 into HISTORY_TYPES
    history_at: np.ndarray  # int64 epoch seconds
    history_value: np.ndarray  # float (purchase amount, else 0)

    @property
    def size(self) -> int:
        return len(self.keys)


def _local_to_utc(clock: ZoneClock, zone_idx: np.ndarray, local: np.ndarray) -> np.ndarray:
    guess = local - clock.offsets(zone_idx, local)
    return local - clock.offsets(zone_idx, guess)


def arrival_times(
    rng: np.random.Generator,
    config: SimConfig,
    clock: ZoneClock,
    zone_idx: np.ndarray,
    start: int,
    end: int,
) -> np.ndarray:
    """Form-fill times in [start, end): day weighted (weekends lighter), local hour by pattern."""
    n = len(zone_idx)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    first_day = start // DAY - 1
    n_days = (end - start) // DAY + 3
    days = first_day + np.arange(n_days)
    weekday = (days + 3) % 7
    day_w = np.where(weekday >= 5, config.weekend_arrival_factor, 1.0)
    hours = np.asarray(config.arrival_hour_weights, dtype=float)
    out = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    for _ in range(50):
        if len(todo) == 0:
            break
        d = rng.choice(days, size=len(todo), p=day_w / day_w.sum())
        h = rng.choice(24, size=len(todo), p=hours / hours.sum())
        local = d * DAY + h * HOUR + rng.integers(0, HOUR, size=len(todo))
        utc = _local_to_utc(clock, zone_idx[todo], local)
        ok = (utc >= start) & (utc < end)
        out[todo[ok]] = utc[ok]
        todo = todo[~ok]
    if len(todo):
        out[todo] = rng.integers(start, end, size=len(todo))
    return out


def generate(
    config: SimConfig,
    rng: np.random.Generator,
    clock: ZoneClock,
    *,
    n: int,
    created_from: int,
    created_to: int,
    history_until: np.ndarray | None,
    key_prefix: str,
) -> Population:
    """``n`` leads created in [created_from, created_to); history ends at ``history_until``
    (per lead; default: its own creation time)."""
    table = area_codes()
    area_idx = rng.choice(len(table.codes), size=n, p=table.weights)
    phones = generate_phones(rng, area_idx)
    zones = candidate_zones(phones, area_idx)
    n_zones = (zones >= 0).sum(axis=1)
    primary = rng.random(n) < config.split_zone_primary_share
    other = 1 + rng.integers(0, np.maximum(n_zones - 1, 1))
    pick = np.where((n_zones == 1) | primary, 0, np.minimum(other, n_zones - 1))
    zone_idx = zones[np.arange(n), pick]
    created_at = arrival_times(rng, config, clock, zone_idx, created_from, created_to)
    order = np.argsort(created_at, kind="stable")  # keys in arrival order
    created_at, area_idx, phones = created_at[order], area_idx[order], phones[order]
    zones, zone_idx = zones[order], zone_idx[order]
    v_share = np.array([v.share for v in config.verticals])
    vertical_idx = rng.choice(len(v_share), size=n, p=v_share / v_share.sum())
    s_share = np.array([s.share for s in config.sources])
    source_idx = rng.choice(len(s_share), size=n, p=s_share / s_share.sum())
    mix = np.array([v.persona_weights for v in config.verticals])[vertical_idx]
    alpha = np.maximum(config.persona_concentration * len(PERSONAS) * mix, 1e-3)
    persona_weights = rng.gamma(alpha)
    persona_weights /= persona_weights.sum(axis=1, keepdims=True)
    curves = lead_curves(rng, config, persona_weights, vertical_idx)
    quality = np.array([s.quality for s in config.sources])[source_idx]
    raw_level = rng.normal(0.0, 1.0, size=n) + 0.5 * quality
    level = np.exp(0.5 * raw_level)
    until = created_at if history_until is None else history_until
    hist = _history(rng, config, clock, level, vertical_idx, persona_weights, zone_idx, until)
    counts = np.zeros((n, len(HISTORY_TYPES)))
    np.add.at(counts, (hist[0], hist[1]), 1.0)
    vertical_logit = np.array([v.conversion_logit for v in config.verticals])[vertical_idx]
    propensity = (
        config.propensity_intercept
        + quality
        + vertical_logit
        + config.propensity_open_coef * np.log1p(counts[:, 0])
        + config.propensity_click_coef * np.log1p(counts[:, 1])
        + config.propensity_visit_coef * np.log1p(counts[:, 2])
        + config.propensity_purchase_coef * (counts[:, 3] > 0)
        + rng.normal(0.0, config.propensity_noise_sd, size=n)
    )
    centred = propensity - propensity.mean() if n else propensity
    engagement = np.exp(
        config.engagement_from_propensity * centred
        + rng.normal(0.0, config.engagement_sd, size=n)
        - 0.5 * config.engagement_sd**2
    )
    products = np.array(
        [
            config.verticals[v].products[rng.integers(len(config.verticals[v].products))]
            for v in vertical_idx
        ],
        dtype=object,
    )
    products[rng.random(n) >= config.product_interest_share] = None
    names = np.array(FIRST_NAMES, dtype=object)[rng.integers(len(FIRST_NAMES), size=n)]
    names[rng.random(n) >= config.first_name_share] = None
    keys = np.array([f"{key_prefix}{i:06d}" for i in range(n)], dtype=object)
    emails = np.array([f"{k}@example.com".lower() for k in keys], dtype=object)
    emails[rng.random(n) >= config.email_share] = None
    revenue_mean = np.array([v.revenue_mean for v in config.verticals])[vertical_idx]
    return Population(
        keys=keys,
        created_at=created_at.astype(np.int64),
        phones=phones,
        area_idx=area_idx.astype(np.int64),
        zone_idx=zone_idx.astype(np.int64),
        cand_zones=zones,
        state_known=rng.random(n) < config.state_known_share,
        emails=emails,
        first_names=names,
        products=products,
        vertical_idx=vertical_idx.astype(np.int64),
        source_idx=source_idx.astype(np.int64),
        consent=rng.random(n) < config.consent_share,
        persona_weights=persona_weights,
        curves=curves,
        engagement=engagement,
        propensity_logit=propensity,
        revenue_mean=revenue_mean,
        history_lead=hist[0],
        history_type=hist[1],
        history_at=hist[2],
        history_value=hist[3],
    )


def _history(
    rng: np.random.Generator,
    config: SimConfig,
    clock: ZoneClock,
    level: np.ndarray,
    vertical_idx: np.ndarray,
    persona_weights: np.ndarray,
    zone_idx: np.ndarray,
    until: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    means = (
        config.email_opens_mean,
        config.email_clicks_mean,
        config.visits_mean,
        config.purchases_mean,
    )
    leads: list[np.ndarray] = []
    types: list[np.ndarray] = []
    for t, mean in enumerate(means):
        k = rng.poisson(mean * level)
        leads.append(np.repeat(np.arange(len(level)), k))
        types.append(np.full(int(k.sum()), t, dtype=np.int64))
    lead = np.concatenate(leads) if leads else np.zeros(0, dtype=np.int64)
    kind = np.concatenate(types) if types else np.zeros(0, dtype=np.int64)
    m = len(lead)
    if m == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0)
    # Hour of week from the lead's persona mix (so the history reveals when it responds).
    cdfs = mixture_cdfs(config)
    cum = np.cumsum(persona_weights[lead], axis=1)
    persona = (rng.random(m)[:, None] > cum).sum(axis=1).clip(0, len(PERSONAS) - 1)
    u = rng.random(m)
    how = np.empty(m, dtype=np.int64)
    for v in range(cdfs.shape[0]):
        for p in range(cdfs.shape[1]):
            sel = (vertical_idx[lead] == v) & (persona == p)
            if sel.any():
                how[sel] = np.searchsorted(cdfs[v, p], u[sel], side="right").clip(0, 167)
    uniform = rng.random(m) >= config.history_curve_share
    how[uniform] = rng.integers(0, 7, size=int(uniform.sum())) * 24 + rng.integers(
        8, 23, size=int(uniform.sum())
    )
    # A local date with that weekday inside the look-back window.
    end = until[lead]
    end_local = clock.local(zone_idx[lead], end)
    end_day = end_local // DAY
    end_weekday = (end_day + 3) % 7
    weeks = max(config.history_lookback_days // 7, 1)
    back = (end_weekday - how // 24) % 7 + 7 * rng.integers(0, weeks, size=m)
    local = (end_day - back) * DAY + (how % 24) * HOUR + rng.integers(0, HOUR, size=m)
    at = _local_to_utc(clock, zone_idx[lead], local)
    at = np.where(at >= end, at - 7 * DAY, at)
    value = np.where(kind == 3, np.round(rng.lognormal(4.0, 0.6, size=m), 2), 0.0)
    order = np.lexsort((at, lead))
    return lead[order], kind[order], at[order].astype(np.int64), value[order]
