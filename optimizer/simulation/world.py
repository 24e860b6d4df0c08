"""The simulated world: its leads (what a form fill shows), their latent truth (for oracles only).

A :class:`World` is immutable: it holds the population (leads that existed before ``start``,
with history, and the form fills that arrive over ``days``) and answers questions about it. The
dynamic state of a run (texts, opt-outs) lives in the run (``run_world`` or the bulk path), so the
same world can be run with two engines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import InvalidInput
from optimizer.simulation.checker import ComplianceChecker
from optimizer.simulation.config import PERSONAS, SimConfig
from optimizer.simulation.geography import DAY, ZoneClock, area_codes, from_epoch, to_epoch
from optimizer.simulation.outcomes import Probabilities, VariantArrays, probabilities
from optimizer.simulation.population import HISTORY_CHANNELS, HISTORY_TYPES, Population, generate

CONSENT_DISCLOSURE = (
    "By submitting this form you agree to receive recurring automated marketing text messages "
    "from {brand} at the number provided. Consent is not a condition of purchase. Msg & data "
    "rates may apply. Reply STOP to opt out, HELP for help."
)


@dataclass(frozen=True)
class SimLead:
    """What a real form fill gives: no latent fields."""

    external_id: str
    phone: str
    state: str | None
    email: str | None
    source: str
    vertical: str
    attributes: dict[str, Any]
    created_at: dt.datetime
    consent_given: bool
    consent_at: dt.datetime | None
    consent_method: str | None
    consent_disclosure: str | None
    postal_code: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class LatentLead:
    """The truth about one lead (for oracles in evaluations; never shown to an engine)."""

    external_id: str
    zone: str
    persona_weights: dict[str, float]
    curve: np.ndarray  # (168,) local hour-of-week responsiveness, Monday 00:00 first
    engagement: float
    conversion_propensity: float  # probability of converting once engaged
    revenue_mean: float


@dataclass(frozen=True)
class World:
    config: SimConfig
    start: dt.datetime
    days: int
    population: Population
    clock: ZoneClock = field(repr=False)
    checker: ComplianceChecker = field(repr=False)
    index: dict[str, int] = field(repr=False)
    brand: str = "Acme Home Services"

    @classmethod
    def create(
        cls,
        config: SimConfig,
        *,
        start: dt.datetime,
        days: int,
        arrivals: int | None = None,
        brand: str = "Acme Home Services",
    ) -> World:
        """Leads created before ``start`` (``config.history_leads``) plus form fills over
        ``days`` (``arrivals`` or Poisson(``arrivals_per_day * days``))."""
        if days < 0:
            raise InvalidInput(f"days {days!r} is negative (0 or more expected)", field="days")
        rng = np.random.default_rng(config.seed)
        clock = ZoneClock(area_codes().zone_names)
        t0 = to_epoch(start)
        n_new = int(rng.poisson(config.arrivals_per_day * days)) if arrivals is None else arrivals
        old = generate(
            config,
            rng,
            clock,
            n=config.history_leads,
            created_from=t0 - config.history_days * DAY,
            created_to=t0,
            history_until=None,
            key_prefix=f"sim{config.seed}-h",
        )
        new = generate(
            config,
            rng,
            clock,
            n=n_new,
            created_from=t0,
            created_to=t0 + days * DAY,
            history_until=None,
            key_prefix=f"sim{config.seed}-a",
        )
        pop = _concat(old, new)
        world = cls(
            config=config,
            start=start.astimezone(dt.UTC),
            days=days,
            population=pop,
            clock=clock,
            checker=ComplianceChecker(clock),
            index={str(k): i for i, k in enumerate(pop.keys)},
            brand=brand,
        )
        return world

    # --- what engines may see -------------------------------------------------------------
    def lead_index(self, key: str) -> int:
        try:
            return self.index[key]
        except KeyError:
            raise InvalidInput(
                f"lead_key {key!r} is not a lead of this world", field="lead_key"
            ) from None

    def lead(self, key_or_index: str | int) -> SimLead:
        i = key_or_index if isinstance(key_or_index, int) else self.lead_index(key_or_index)
        pop = self.population
        table = area_codes()
        created = from_epoch(pop.created_at[i])
        attributes: dict[str, Any] = {}
        if pop.first_names[i] is not None:
            attributes["first_name"] = pop.first_names[i]
        if pop.products[i] is not None:
            attributes["product_interest"] = pop.products[i]
        consent = bool(pop.consent[i])
        brand = self.brand
        return SimLead(
            external_id=str(pop.keys[i]),
            phone=str(pop.phones[i]),
            state=table.states[pop.area_idx[i]] if pop.state_known[i] else None,
            email=pop.emails[i],
            source=self.config.sources[pop.source_idx[i]].name,
            vertical=self.config.verticals[pop.vertical_idx[i]].name,
            attributes=attributes,
            created_at=created,
            consent_given=consent,
            consent_at=created if consent else None,
            consent_method="web" if consent else None,
            consent_disclosure=CONSENT_DISCLOSURE.format(brand=brand) if consent else None,
        )

    def existing(self) -> np.ndarray:
        """Indices of leads created before the start (they have history to write)."""
        return np.nonzero(self.population.created_at < to_epoch(self.start))[0]

    def arrivals(self) -> np.ndarray:
        """Indices of the form fills during the run, in arrival order."""
        return np.nonzero(self.population.created_at >= to_epoch(self.start))[0]

    def history_frame(self, idx: np.ndarray | None = None) -> pd.DataFrame:
        """Engagement history (email opens, clicks, visits, purchases) of some leads."""
        pop = self.population
        sel = (
            np.ones(len(pop.history_lead), dtype=bool)
            if idx is None
            else np.isin(pop.history_lead, idx)
        )
        lead = pop.history_lead[sel]
        kind = pop.history_type[sel]
        return pd.DataFrame(
            {
                "lead_key": pd.array(pop.keys[lead].astype(str), dtype="str"),
                "type": pd.array(np.array(HISTORY_TYPES)[kind], dtype="str"),
                "channel": pd.array(np.array(HISTORY_CHANNELS)[kind], dtype="str"),
                "occurred_at": pd.to_datetime(pop.history_at[sel], unit="s", utc=True),
                "value": pop.history_value[sel],
            }
        )

    # --- the truth, for oracles and evaluations ------------------------------------------
    def latent(self, key: str) -> LatentLead:
        i = self.lead_index(key)
        pop = self.population
        logit = pop.propensity_logit[i] + np.log(self.config.conversion_scale)
        return LatentLead(
            external_id=key,
            zone=area_codes().zone_names[pop.zone_idx[i]],
            persona_weights={
                p: float(w) for p, w in zip(PERSONAS, pop.persona_weights[i], strict=True)
            },
            curve=pop.curves[i].astype(float),
            engagement=float(pop.engagement[i]),
            conversion_propensity=float(1.0 / (1.0 + np.exp(-logit))),
            revenue_mean=float(pop.revenue_mean[i]),
        )

    def true_probabilities(
        self,
        idx: np.ndarray,
        at: np.ndarray,
        *,
        variant: str | None = None,
        prior_texts: np.ndarray | None = None,
    ) -> Probabilities:
        """Exact outcome probabilities of a text to leads ``idx`` at epoch seconds ``at``
        (broadcast: idx (n, 1) with at (n, s) scores s slots per lead)."""
        idx = np.asarray(idx, dtype=np.int64)
        at = np.asarray(at, dtype=np.int64)
        idx_b, at_b = np.broadcast_arrays(idx, at)
        flat_i, flat_t = idx_b.ravel(), at_b.ravel()
        variants = (
            VariantArrays.neutral(len(flat_i))
            if variant is None
            else VariantArrays.of(self.config, [variant] * len(flat_i))
        )
        prior = (
            np.zeros(len(flat_i))
            if prior_texts is None
            else np.broadcast_to(prior_texts, idx_b.shape).ravel()
        )
        probs = probabilities(
            self.config, self.population, self.clock, flat_i, flat_t, variants, prior
        )
        shape = idx_b.shape
        return Probabilities(
            reply=probs.reply.reshape(shape),
            click=probs.click.reshape(shape),
            opt_out=probs.opt_out.reshape(shape),
        )


def _concat(a: Population, b: Population) -> Population:
    values: dict[str, np.ndarray] = {}
    for f in fields(Population):
        left, right = getattr(a, f.name), getattr(b, f.name)
        if f.name == "history_lead":
            right = right + a.size
        if f.name == "cand_zones" and left.shape[1] != right.shape[1]:
            width = max(left.shape[1], right.shape[1])
            left = np.pad(left, ((0, 0), (0, width - left.shape[1])), constant_values=-1)
            right = np.pad(right, ((0, 0), (0, width - right.shape[1])), constant_values=-1)
        values[f.name] = np.concatenate([left, right])
    return Population(**values)
