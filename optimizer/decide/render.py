"""Render a message template with the lead's own (zero-party) data and derived tokens.

A token the lead cannot fill makes the template ineligible for that lead: the service never
sends a text with a hole in it.

>>> render("Hi {first_name}, {brand} here", {"first_name": "Ana", "brand": "Acme"}).text
'Hi Ana, Acme here'
>>> render("Hi {first_name}", {}).missing
('first_name',)
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str | None
    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.text is not None


def placeholders(template: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(PLACEHOLDER.findall(template)))


def _format(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else f"{value:.2f}"
    text = str(value).strip()
    return text or None


def render(template: str, tokens: Mapping[str, Any]) -> Rendered:
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        value = _format(tokens.get(match.group(1)))
        if value is None:
            missing.append(match.group(1))
            return match.group(0)
        return value

    text = PLACEHOLDER.sub(substitute, template)
    if missing:
        return Rendered(text=None, missing=tuple(dict.fromkeys(missing)))
    return Rendered(text=text, missing=())


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What derived tokens are computed from (as of the decision time)."""

    created_at: dt.datetime
    last_visit_at: dt.datetime | None = None
    last_purchase_at: dt.datetime | None = None
    last_reply_at: dt.datetime | None = None
    touched: bool = False  # a marketing text has gone to the lead before


def derived_tokens(facts: LeadFacts, as_of: dt.datetime) -> dict[str, Any]:
    """Tokens for the seed material's behaviour and time references."""

    def days_since(at: dt.datetime | None) -> int | None:
        return None if at is None or at > as_of else int((as_of - at).total_seconds() // 86400)

    days_created = days_since(facts.created_at)
    return {
        "days_since_created": days_created,
        "weeks_since_created": None if days_created is None else days_created // 7,
        "days_since_last_visit": days_since(facts.last_visit_at),
        "days_since_last_purchase": days_since(facts.last_purchase_at),
        "days_since_last_reply": days_since(facts.last_reply_at),
    }


def lead_tokens(
    attributes: Mapping[str, Any], facts: LeadFacts, as_of: dt.datetime, *, brand: str
) -> dict[str, Any]:
    tokens: dict[str, Any] = {k: v for k, v in attributes.items() if isinstance(k, str)}
    tokens.update({k: v for k, v in derived_tokens(facts, as_of).items() if v is not None})
    tokens["brand"] = brand
    return tokens


def render_all(
    templates: Iterable[tuple[int | None, str]], tokens: Mapping[str, Any]
) -> dict[int | None, Rendered]:
    return {key: render(template, tokens) for key, template in templates}
