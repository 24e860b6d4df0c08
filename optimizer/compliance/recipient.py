"""Who a text goes to, in time: the one place that decides a recipient's zones and states.

Every reader of a recipient's local time asks :func:`resolve_recipient`: the gate (it checks
every candidate zone and state), the decision (the zone its times are shown in), the send-time
model in training and in serving (the zone it reads local hours in), and the API's lead output.
Candidate zones are the number's own (``phonenumbers``), the zones of a split area code (one
table: ``split_area_codes`` in ``rules.json``), the lead's explicit zone and, under the policy
that says so, the zones of the lead's state of residence.

The *display zone* is the single zone a person or a model reads the recipient's hours in: the
lead's explicit zone, else a zone ``phonenumbers`` gives the number that is also a zone of the
lead's state of residence, else a candidate zone of that state, else the number's zone, else a
split area code's. Among several it takes the first of
``DISPLAY_ORDER``, else the first alphabetically. The gate never relies on it: it enforces every candidate zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from optimizer.compliance.rules import load_rules
from optimizer.errors import InvalidInput
from optimizer.phones import PhoneInfo, parse_phone

DISPLAY_ORDER = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Boise",
    "America/Phoenix",
    "America/Los_Angeles",
)
# Where nothing is known (no valid number, no zone): the zone models read hours in. Never used by
# the gate, which denies a recipient with no candidate zone.
MODEL_FALLBACK_ZONE = "America/New_York"


@dataclass(frozen=True, slots=True)
class Recipient:
    zones: tuple[str, ...]  # every candidate IANA zone, sorted (empty: unknown)
    states: tuple[str, ...]  # every candidate US state, sorted
    display_zone: str | None  # the one zone hours are shown and modelled in (None: unknown)

    @property
    def model_zone(self) -> str:
        """The zone a model reads local hours in: the display zone, else the fallback."""
        return self.display_zone or MODEL_FALLBACK_ZONE


def _first(zones: set[str] | tuple[str, ...]) -> str | None:
    for zone in DISPLAY_ORDER:
        if zone in zones:
            return zone
    return min(zones) if zones else None


@lru_cache(maxsize=65536)
def resolve_recipient(
    phone: PhoneInfo | None,
    lead_time_zone: str | None = None,
    address_state: str | None = None,
    *,
    address_state_adds_zones: bool = True,
) -> Recipient:
    """The candidate zones and states of a recipient, and its display zone."""
    rules = load_rules()
    own: set[str] = set()  # the zones phonenumbers gives the number
    states: set[str] = set()
    zones: set[str] = set()
    if phone is not None:
        own.update(phone.time_zones)
        zones.update(own)
        if phone.area_code:
            zones.update(rules.split_area_codes.get(phone.area_code, ()))
            if phone.country == "US" and phone.area_code in rules.area_code_states:
                states.add(rules.area_code_states[phone.area_code])
        if phone.state:
            states.add(phone.state)
    if lead_time_zone:
        zones.add(lead_time_zone)
    home: set[str] = set()
    if address_state:
        state = address_state.strip().upper()
        states.add(state)
        home = set(rules.state_time_zones.get(state, ()))
        if address_state_adds_zones:
            zones.update(home)
    display = (
        lead_time_zone or _first(own & home) or _first(home & zones) or _first(own) or _first(zones)
    )
    return Recipient(zones=tuple(sorted(zones)), states=tuple(sorted(states)), display_zone=display)


@lru_cache(maxsize=65536)
def recipient_of(
    phone_e164: str | None, lead_time_zone: str | None = None, address_state: str | None = None
) -> Recipient:
    """:func:`resolve_recipient` from a stored number; one that no longer parses has no zone.
    (Cached: parsing the number is most of its cost, and a decision asks two or three times.)"""
    info: PhoneInfo | None = None
    if phone_e164:
        try:
            info = parse_phone(phone_e164)
        except InvalidInput:
            info = None
    return resolve_recipient(info, lead_time_zone or None, address_state or None)
