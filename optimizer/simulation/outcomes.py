"""What a text does, vectorised: response probabilities and drawn outcomes with their delays.

P(reply) = base * engagement * curve[local hour-of-week] * speed_to_lead(age) * aging(age)
           * variant.reply * fatigue_reply ** (texts in the fatigue window), capped.
P(click) is the same with ``click_ratio`` and the variant's click effect; an opt-out ends the
text's story (no reply, click or conversion); an engaged lead (reply or click) converts with its
latent propensity (the variant shifts the odds) and a log-normal order value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.simulation.config import SimConfig
from optimizer.simulation.geography import DAY, ZoneClock, hour_of_week
from optimizer.simulation.population import Population


@dataclass(frozen=True)
class VariantArrays:
    reply: np.ndarray
    click: np.ndarray
    conversion: np.ndarray
    opt_out: np.ndarray
    # (n, verticals): each text's variant's reply multiplier by the lead's vertical; None when
    # the world has no segment effects (and then nothing is multiplied).
    reply_by_vertical: np.ndarray | None = None

    @classmethod
    def of(cls, config: SimConfig, names: np.ndarray | list[str]) -> VariantArrays:
        effects = [config.effect(str(n)) for n in names]
        by_vertical = None
        if config.segment_effects:
            table = {name: config.reply_by_vertical(name) for name in {str(n) for n in names}}
            by_vertical = np.array([table[str(n)] for n in names], dtype=float).reshape(
                len(effects), len(config.verticals)
            )
        return cls(
            reply=np.array([e.reply for e in effects], dtype=float),
            click=np.array([e.click for e in effects], dtype=float),
            conversion=np.array([e.conversion for e in effects], dtype=float),
            opt_out=np.array([e.opt_out for e in effects], dtype=float),
            reply_by_vertical=by_vertical,
        )

    def reply_effect(self, vertical: np.ndarray) -> np.ndarray:
        """Each text's reply effect for its lead's ``vertical`` (index)."""
        if self.reply_by_vertical is None:
            return self.reply
        return self.reply * self.reply_by_vertical[np.arange(vertical.size), vertical]

    @classmethod
    def neutral(cls, n: int) -> VariantArrays:
        one = np.ones(n)
        return cls(one, one, one, one)


@dataclass(frozen=True)
class Probabilities:
    reply: np.ndarray
    click: np.ndarray
    opt_out: np.ndarray

    @property
    def response(self) -> np.ndarray:
        """P(reply or click) given no opt-out, times P(no opt-out)."""
        return (1.0 - self.opt_out) * (1.0 - (1.0 - self.reply) * (1.0 - self.click))


def timing_factor(
    config: SimConfig, pop: Population, clock: ZoneClock, lead: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """curve[local hour-of-week] * speed-to-lead * aging, the time-dependent part."""
    how = hour_of_week(clock.local(pop.zone_idx[lead], t))
    curve = pop.curves[lead, how].astype(float)
    age = np.maximum(t - pop.created_at[lead], 0).astype(float)
    speed = 1.0 + (config.speed_to_lead_peak - 1.0) * np.exp(
        -age / 60.0 / config.speed_to_lead_tau_minutes
    )
    aging = config.aging_floor + (1.0 - config.aging_floor) * 0.5 ** (
        age / DAY / config.aging_half_life_days
    )
    return curve * speed * aging


def probabilities(
    config: SimConfig,
    pop: Population,
    clock: ZoneClock,
    lead: np.ndarray,
    t: np.ndarray,
    variants: VariantArrays,
    prior_texts: np.ndarray,
) -> Probabilities:
    lead = np.asarray(lead, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    timing = timing_factor(config, pop, clock, lead, t)
    fatigue = config.fatigue_reply_factor ** np.asarray(prior_texts, dtype=float)
    core = config.base_reply_rate * pop.engagement[lead] * timing * fatigue
    cap = config.max_reply_probability
    reply = np.clip(core * variants.reply_effect(pop.vertical_idx[lead]), 0.0, cap)
    click = np.clip(core * config.click_ratio * variants.click, 0.0, cap)
    curve = pop.curves[lead, hour_of_week(clock.local(pop.zone_idx[lead], t))]
    annoyance = np.clip(1.4 - 0.3 * curve, 0.6, 1.4)  # texts at bad hours annoy a little more
    opt_out = np.clip(
        config.opt_out_rate
        * config.fatigue_opt_out_factor ** np.asarray(prior_texts, dtype=float)
        * variants.opt_out
        * annoyance,
        0.0,
        0.5,
    )
    return Probabilities(reply=reply, click=click, opt_out=opt_out)


@dataclass(frozen=True)
class Drawn:
    """Outcomes of n texts; times are epoch seconds (valid where the flag is set)."""

    delivered: np.ndarray
    opt_out: np.ndarray
    opt_out_at: np.ndarray
    opt_out_text: np.ndarray  # index into config.opt_out_texts
    reply: np.ndarray
    reply_at: np.ndarray
    reply_text: np.ndarray
    click: np.ndarray
    click_at: np.ndarray
    conversion: np.ndarray
    conversion_at: np.ndarray
    revenue: np.ndarray
    inbound: np.ndarray
    inbound_at: np.ndarray
    inbound_text: np.ndarray
    p_reply: np.ndarray


def _delay(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return rng.lognormal(np.log(median), sigma, size=n)


def draw(
    config: SimConfig,
    pop: Population,
    clock: ZoneClock,
    rng: np.random.Generator,
    lead: np.ndarray,
    t: np.ndarray,
    variants: VariantArrays,
    prior_texts: np.ndarray,
) -> Drawn:
    lead = np.asarray(lead, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    n = len(lead)
    probs = probabilities(config, pop, clock, lead, t, variants, prior_texts)
    delivered = rng.random(n) >= config.delivery_failure_rate
    opt_out = delivered & (rng.random(n) < probs.opt_out)
    live = delivered & ~opt_out
    reply = live & (rng.random(n) < probs.reply)
    click = live & (rng.random(n) < probs.click)
    engaged = reply | click
    logit = (
        pop.propensity_logit[lead]
        + np.log(config.conversion_scale)
        + np.log(np.maximum(variants.conversion, 1e-9))
    )
    conversion = engaged & (rng.random(n) < 1.0 / (1.0 + np.exp(-logit)))
    inbound = live & ~reply & (rng.random(n) < config.inbound_rate)
    minute = 60.0
    reply_at = t + (
        minute * _delay(rng, config.reply_delay_median_minutes, config.reply_delay_sigma, n)
    ).astype(np.int64)
    click_at = t + (minute * _delay(rng, config.click_delay_median_minutes, 1.0, n)).astype(
        np.int64
    )
    first_touch = np.where(
        reply & click, np.minimum(reply_at, click_at), np.where(reply, reply_at, click_at)
    )
    conversion_at = first_touch + (
        3600.0 * _delay(rng, config.conversion_delay_median_hours, 1.0, n)
    ).astype(np.int64)
    sigma = config.revenue_sigma
    revenue = np.where(
        conversion,
        np.round(pop.revenue_mean[lead] * rng.lognormal(-0.5 * sigma**2, sigma, size=n), 2),
        0.0,
    )
    opt_out_at = t + (minute * _delay(rng, config.opt_out_delay_median_minutes, 1.0, n)).astype(
        np.int64
    )
    inbound_at = t + (minute * _delay(rng, 30.0, 1.0, n)).astype(np.int64)
    return Drawn(
        delivered=delivered,
        opt_out=opt_out,
        opt_out_at=opt_out_at,
        opt_out_text=rng.integers(0, len(config.opt_out_texts), size=n),
        reply=reply,
        reply_at=reply_at,
        reply_text=rng.integers(0, len(config.reply_texts), size=n),
        click=click,
        click_at=click_at,
        conversion=conversion,
        conversion_at=conversion_at,
        revenue=revenue,
        inbound=inbound,
        inbound_at=inbound_at,
        inbound_text=rng.integers(0, len(config.inbound_texts), size=n),
        p_reply=probs.reply,
    )
