"""The demo experiment's three message variants (names match the simulated world's variants)."""

from __future__ import annotations

DEMO_VARIANTS: tuple[tuple[str, str], ...] = (
    (
        "plain",
        "{brand}: thanks for your request. Any questions? Just reply to this text. "
        "Reply STOP to opt out.",
    ),
    (
        "personal",
        "Hi {first_name}, it's {brand}. You asked about {product_interest}: want me to hold a time "
        "for you this week? Reply STOP to opt out.",
    ),
    (
        "urgency",
        "{brand}: only a few openings left this week for {product_interest}. Reply YES to grab "
        "one. Reply STOP to opt out.",
    ),
)

# What the naive engine sends when a lead cannot fill a variant's tokens.
FALLBACK_VARIANT = "plain"
