"""The simulator's one documented configuration (every parameter is listed in docs/simulator.md).

Defaults are chosen so that a default run lands in the ranges the seed material cites: reply
rates from a few percent (late, repeated texts) to ~40 % (first text within 5 minutes of a form
fill), conversion 2-15 % of engaged leads, opt-outs around 1-3 % of recipients per campaign.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from optimizer.errors import InvalidInput

PERSONAS = ("morning", "lunch", "evening", "weekend")


@dataclass(frozen=True)
class VariantEffect:
    """The true effect of a message variant, keyed by its name (an unknown name gets 1.0)."""

    name: str
    reply: float = 1.0
    click: float = 1.0
    conversion: float = 1.0
    opt_out: float = 1.0


@dataclass(frozen=True)
class SegmentVariantEffect:
    """Heterogeneity: a variant's reply effect for leads of one vertical, multiplying the
    variant's own ``reply`` effect (a pair not listed gets 1.0)."""

    vertical: str
    variant: str
    reply: float = 1.0


@dataclass(frozen=True)
class VerticalProfile:
    """How leads of one vertical behave: share, persona mix, conversion and order value."""

    name: str
    share: float
    persona_weights: tuple[float, float, float, float]  # morning, lunch, evening, weekend
    conversion_logit: float  # added to the latent conversion propensity
    revenue_mean: float  # mean order value of a conversion, dollars
    products: tuple[str, ...]


@dataclass(frozen=True)
class SourceProfile:
    name: str
    share: float
    quality: float  # added to the propensity logit and (half) to the engagement level


DEFAULT_VERTICALS = (
    VerticalProfile(
        "healthcare",
        0.22,
        (0.45, 0.35, 0.12, 0.08),
        -0.1,
        320.0,
        ("dental cleaning", "eye exam", "physical therapy", "hearing test"),
    ),
    VerticalProfile(
        "retail",
        0.22,
        (0.08, 0.17, 0.50, 0.25),
        0.15,
        85.0,
        ("running shoes", "sofa", "winter jacket", "espresso machine"),
    ),
    VerticalProfile(
        "b2b",
        0.16,
        (0.55, 0.30, 0.10, 0.05),
        -0.35,
        1500.0,
        ("crm seats", "payroll software", "cloud backup", "fleet tracking"),
    ),
    VerticalProfile(
        "home_services",
        0.20,
        (0.30, 0.20, 0.30, 0.20),
        0.05,
        450.0,
        ("roof repair", "hvac tune-up", "solar panels", "water heater"),
    ),
    VerticalProfile(
        "insurance",
        0.10,
        (0.25, 0.30, 0.30, 0.15),
        -0.2,
        600.0,
        ("auto insurance", "home insurance", "life insurance"),
    ),
    VerticalProfile(
        "education",
        0.10,
        (0.15, 0.20, 0.45, 0.20),
        -0.25,
        900.0,
        ("mba program", "coding bootcamp", "nursing degree"),
    ),
)

DEFAULT_SOURCES = (
    SourceProfile("web_form", 0.30, 0.2),
    SourceProfile("google_ads", 0.22, 0.1),
    SourceProfile("facebook_ads", 0.20, -0.3),
    SourceProfile("referral", 0.10, 0.6),
    SourceProfile("landing_page", 0.12, 0.0),
    SourceProfile("partner_list", 0.06, -0.5),
)

DEFAULT_VARIANTS = (
    VariantEffect("plain"),
    VariantEffect("personal", reply=1.30, click=1.10, conversion=1.10, opt_out=0.90),
    VariantEffect("urgency", reply=0.90, click=1.25, conversion=1.20, opt_out=1.60),
)

# An example of heterogeneity (off unless given as ``segment_effects``): the variant that
# draws the most replies depends on the vertical — plain in healthcare and B2B, urgency in
# retail and education, personal (the best on average) elsewhere.
HETEROGENEOUS_EFFECTS = (
    SegmentVariantEffect("healthcare", "plain", reply=1.5),
    SegmentVariantEffect("healthcare", "personal", reply=0.8),
    SegmentVariantEffect("b2b", "plain", reply=1.5),
    SegmentVariantEffect("b2b", "personal", reply=0.8),
    SegmentVariantEffect("retail", "urgency", reply=1.8),
    SegmentVariantEffect("education", "urgency", reply=1.8),
)

# Form fills by local hour of day (relative weights): low at night, peaks at lunch and evening.
DEFAULT_ARRIVAL_HOURS = (
    0.15,
    0.08,
    0.05,
    0.04,
    0.05,
    0.10,
    0.30,
    0.60,
    0.90,
    1.10,
    1.20,
    1.30,
    1.45,
    1.35,
    1.20,
    1.15,
    1.15,
    1.25,
    1.40,
    1.55,
    1.50,
    1.20,
    0.80,
    0.40,
)

DEFAULT_OPT_OUT_TEXTS = (
    "STOP",
    "Stop",
    "stop",
    "STOP ALL",
    "Unsubscribe",
    "unsubscribe please",
    "cancel",
    "END",
    "quit",
    "Opt out",
    "REMOVE",
    "Stop texting me",
    "please take me off your list",
    "Please opt me out",
    "wrong number",
    "STOP!!",
    "stop.",
    "Revoke",
)
DEFAULT_REPLY_TEXTS = (
    "Yes",
    "yes please",
    "Sounds good",
    "What times do you have?",
    "Interested",
    "Can you call me?",
    "How much is it?",
    "Tell me more",
    "ok",
    "Maybe next week",
)
DEFAULT_INBOUND_TEXTS = ("HELP", "Who is this?", "info")


@dataclass(frozen=True)
class SimConfig:
    """Every parameter of the simulated world; ``seed`` makes every run repeatable."""

    seed: int = 7
    # Population and arrivals.
    history_leads: int = 3000  # leads that exist before the start, with logged history
    history_days: int = 45  # they were created over this many days before the start
    arrivals_per_day: float = 120.0  # mean new form fills per simulated day (Poisson)
    arrival_hour_weights: tuple[float, ...] = DEFAULT_ARRIVAL_HOURS
    weekend_arrival_factor: float = 0.7
    consent_share: float = 0.97  # form fills that carry prior express written consent
    state_known_share: float = 0.35  # leads whose form gives their state
    email_share: float = 0.85
    first_name_share: float = 0.9
    product_interest_share: float = 0.75
    verticals: tuple[VerticalProfile, ...] = DEFAULT_VERTICALS
    sources: tuple[SourceProfile, ...] = DEFAULT_SOURCES
    split_zone_primary_share: float = 0.7  # split area codes: share living in the first zone
    # Latent hour-of-week responsiveness (local time).
    persona_concentration: float = 0.15  # Dirichlet scale around the vertical's persona mix
    hour_noise_sd: float = 0.08  # individual log-normal noise per hour-of-week
    night_floor: float = 0.08  # responsiveness at night relative to the mean waking hour
    # Engagement history before the form fill / the start.
    history_lookback_days: int = 90
    email_opens_mean: float = 9.0
    email_clicks_mean: float = 1.5
    visits_mean: float = 3.0
    purchases_mean: float = 0.25
    history_curve_share: float = 0.9  # history events timed by the lead's own curve
    # Latent conversion propensity (logit) from observable features plus noise.
    propensity_intercept: float = -4.4
    propensity_open_coef: float = 0.25  # per log1p(email opens)
    propensity_click_coef: float = 0.45  # per log1p(email clicks)
    propensity_visit_coef: float = 0.3  # per log1p(visits)
    propensity_purchase_coef: float = 0.7  # any earlier purchase
    propensity_noise_sd: float = 0.6
    engagement_from_propensity: float = 0.35  # reply tendency shares the propensity
    engagement_sd: float = 0.45  # individual log-normal reply tendency
    # Outcomes of one text.
    delivery_failure_rate: float = 0.02
    base_reply_rate: float = 0.055  # average lead, average waking hour, lead older than a day
    max_reply_probability: float = 0.9
    click_ratio: float = 0.45  # click probability relative to the reply probability
    reply_delay_median_minutes: float = 9.0
    reply_delay_sigma: float = 1.1  # log-normal shape
    click_delay_median_minutes: float = 4.0
    conversion_delay_median_hours: float = 18.0
    conversion_scale: float = 1.0  # multiplies the odds of converting once engaged
    revenue_sigma: float = 0.5  # log-normal spread of order values
    opt_out_rate: float = 0.003  # per text, before fatigue and variant effects
    opt_out_delay_median_minutes: float = 6.0
    opt_out_texts: tuple[str, ...] = DEFAULT_OPT_OUT_TEXTS
    reply_texts: tuple[str, ...] = DEFAULT_REPLY_TEXTS
    inbound_rate: float = 0.003  # other inbound texts (HELP, "who is this?") per text
    inbound_texts: tuple[str, ...] = DEFAULT_INBOUND_TEXTS
    variants: tuple[VariantEffect, ...] = DEFAULT_VARIANTS
    # Variants' reply effects by vertical (empty: every vertical responds alike; see
    # HETEROGENEOUS_EFFECTS).
    segment_effects: tuple[SegmentVariantEffect, ...] = ()
    # Speed to lead: m(age) = 1 + (peak - 1) * exp(-age / tau), times slow aging.
    speed_to_lead_peak: float = 8.0
    speed_to_lead_tau_minutes: float = 6.0
    aging_half_life_days: float = 30.0
    aging_floor: float = 0.4
    # Fatigue: texts in the previous window lower replies and raise opt-outs.
    fatigue_window_days: float = 7.0
    fatigue_reply_factor: float = 0.7  # reply multiplier per earlier text in the window
    fatigue_opt_out_factor: float = 1.5  # opt-out multiplier per earlier text in the window
    # History written to the store: the logging policy's past marketing sends.
    history_sends_mean: float = 6.0
    # Compliance checker: one non-marketing confirmation may follow an opt-out.
    confirmation_grace_minutes: float = 15.0
    variant_effects: dict[str, VariantEffect] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate(self)
        object.__setattr__(self, "variant_effects", {v.name: v for v in self.variants})

    def with_(self, **changes: object) -> SimConfig:
        """A copy with some parameters changed (``config.with_(seed=3)``)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def effect(self, variant: str) -> VariantEffect:
        return self.variant_effects.get(variant, VariantEffect(variant))

    def reply_by_vertical(self, variant: str) -> tuple[float, ...]:
        """``variant``'s reply multiplier in each vertical (in ``verticals`` order)."""
        factors = {e.vertical: e.reply for e in self.segment_effects if e.variant == variant}
        return tuple(factors.get(v.name, 1.0) for v in self.verticals)


def _validate(config: SimConfig) -> None:
    shares = {
        "consent_share": config.consent_share,
        "state_known_share": config.state_known_share,
        "email_share": config.email_share,
        "first_name_share": config.first_name_share,
        "product_interest_share": config.product_interest_share,
        "split_zone_primary_share": config.split_zone_primary_share,
        "history_curve_share": config.history_curve_share,
        "delivery_failure_rate": config.delivery_failure_rate,
        "base_reply_rate": config.base_reply_rate,
        "max_reply_probability": config.max_reply_probability,
        "opt_out_rate": config.opt_out_rate,
        "inbound_rate": config.inbound_rate,
        "aging_floor": config.aging_floor,
    }
    for name, value in shares.items():
        if not 0.0 <= value <= 1.0:
            raise InvalidInput(f"{name} {value!r} is not a share (0..1 expected)", field=name)
    counts = {
        "history_leads": config.history_leads,
        "history_days": config.history_days,
        "history_lookback_days": config.history_lookback_days,
    }
    for name, count in counts.items():
        if count < 0:
            raise InvalidInput(f"{name} {count!r} is negative (0 or more expected)", field=name)
    if config.arrivals_per_day < 0:
        raise InvalidInput(
            f"arrivals_per_day {config.arrivals_per_day!r} is negative (0 or more expected)",
            field="arrivals_per_day",
        )
    if len(config.arrival_hour_weights) != 24 or min(config.arrival_hour_weights) < 0:
        raise InvalidInput(
            "arrival_hour_weights must be 24 non-negative weights (one per local hour)",
            field="arrival_hour_weights",
        )
    if not config.verticals or not config.sources or not config.variants:
        raise InvalidInput("verticals, sources and variants must each have at least one entry")
    names = [v.name for v in config.variants]
    if len(set(names)) != len(names):
        raise InvalidInput(
            f"variant names {names!r} repeat (unique names expected)", field="variants"
        )
    verticals = {v.name for v in config.verticals}
    pairs = [(e.vertical, e.variant) for e in config.segment_effects]
    for effect in config.segment_effects:
        if effect.vertical not in verticals:
            raise InvalidInput(
                f"segment effect vertical {effect.vertical!r} is not one of "
                f"{', '.join(sorted(verticals))}",
                field="segment_effects",
            )
        if effect.variant not in names:
            raise InvalidInput(
                f"segment effect variant {effect.variant!r} is not one of {', '.join(names)}",
                field="segment_effects",
            )
        if not (math.isfinite(effect.reply) and effect.reply > 0):
            raise InvalidInput(
                f"segment effect ({effect.vertical}, {effect.variant}) reply {effect.reply!r}: "
                "a finite number > 0 expected",
                field="segment_effects",
            )
    if len(set(pairs)) != len(pairs):
        raise InvalidInput(
            "segment_effects list a (vertical, variant) pair twice (once expected)",
            field="segment_effects",
        )
    if not config.opt_out_texts or not config.reply_texts:
        raise InvalidInput("opt_out_texts and reply_texts must not be empty")
    positive = {
        "speed_to_lead_tau_minutes": config.speed_to_lead_tau_minutes,
        "aging_half_life_days": config.aging_half_life_days,
        "fatigue_window_days": config.fatigue_window_days,
        "persona_concentration": config.persona_concentration,
        "reply_delay_median_minutes": config.reply_delay_median_minutes,
        "click_delay_median_minutes": config.click_delay_median_minutes,
        "conversion_delay_median_hours": config.conversion_delay_median_hours,
        "opt_out_delay_median_minutes": config.opt_out_delay_median_minutes,
    }
    for name, value in positive.items():
        if value <= 0:
            raise InvalidInput(f"{name} {value!r} is not positive (> 0 expected)", field=name)
    if config.speed_to_lead_peak < 1.0:
        raise InvalidInput(
            f"speed_to_lead_peak {config.speed_to_lead_peak!r} is below 1 (>= 1 expected)",
            field="speed_to_lead_peak",
        )
