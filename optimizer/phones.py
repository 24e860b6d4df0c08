"""Phone numbers: parse to E.164, validity, type, country, US state and candidate time zones.

``time_zones`` are the zones ``phonenumbers`` gives the number. It gives a single zone for some
US area codes that span two (only Eastern for Florida's 850/448 panhandle codes, where Pensacola
is Central): the missing zones are added, with every other candidate zone of a recipient, by
``optimizer.compliance.recipient.resolve_recipient`` from the one split-area-code table in the
compliance rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType, geocoder, timezone

from optimizer.errors import InvalidInput

US_STATES = {
    "Alabama": "AL",
    "Alaska": "AK",
    "Arizona": "AZ",
    "Arkansas": "AR",
    "California": "CA",
    "Colorado": "CO",
    "Connecticut": "CT",
    "Delaware": "DE",
    "Florida": "FL",
    "Georgia": "GA",
    "Hawaii": "HI",
    "Idaho": "ID",
    "Illinois": "IL",
    "Indiana": "IN",
    "Iowa": "IA",
    "Kansas": "KS",
    "Kentucky": "KY",
    "Louisiana": "LA",
    "Maine": "ME",
    "Maryland": "MD",
    "Massachusetts": "MA",
    "Michigan": "MI",
    "Minnesota": "MN",
    "Mississippi": "MS",
    "Missouri": "MO",
    "Montana": "MT",
    "Nebraska": "NE",
    "Nevada": "NV",
    "New Hampshire": "NH",
    "New Jersey": "NJ",
    "New Mexico": "NM",
    "New York": "NY",
    "North Carolina": "NC",
    "North Dakota": "ND",
    "Ohio": "OH",
    "Oklahoma": "OK",
    "Oregon": "OR",
    "Pennsylvania": "PA",
    "Rhode Island": "RI",
    "South Carolina": "SC",
    "South Dakota": "SD",
    "Tennessee": "TN",
    "Texas": "TX",
    "Utah": "UT",
    "Vermont": "VT",
    "Virginia": "VA",
    "Washington": "WA",
    "Washington State": "WA",
    "West Virginia": "WV",
    "Wisconsin": "WI",
    "Wyoming": "WY",
    "Washington D.C.": "DC",
    "Washington, D.C.": "DC",
    "District of Columbia": "DC",
    "Puerto Rico": "PR",
}
STATE_CODES = frozenset(US_STATES.values())

_TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}


# What a written phone number may contain besides its digits: a leading +, spaces, dots,
# dashes, slashes and parentheses. Letters (vanity numbers, "ext.", "x"), "#" or ";" would be
# read by ``phonenumbers`` as an extension or dropped: the number texted would not be the one
# written.
_PHONE_CHARS = re.compile(r"\+?[0-9 ()./\-\u00a0]+")


class InvalidPhone(InvalidInput):
    """A phone number that cannot be parsed or is not a valid number."""

    code = "phone.invalid"


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    e164: str
    country: str | None  # ISO 3166 region, e.g. "US"
    number_type: str  # mobile | fixed_line | fixed_line_or_mobile | toll_free | ...
    state: str | None  # two-letter US state implied by the area code, if any
    time_zones: tuple[str, ...]  # the zones phonenumbers gives (see the module's note)
    area_code: str | None


def _state_from_description(description: str) -> str | None:
    description = description.strip()
    if not description:
        return None
    if description in US_STATES:
        return US_STATES[description]
    # "Miami, FL" style descriptions end with the state code.
    tail = description.rsplit(",", 1)[-1].strip()
    if tail in STATE_CODES:
        return tail
    return US_STATES.get(tail)


@lru_cache(maxsize=65536)
def parse_phone(raw: str, default_region: str = "US") -> PhoneInfo:
    """Parse ``raw`` into :class:`PhoneInfo`; raise :class:`InvalidPhone` naming the value.

    >>> parse_phone("(305) 555-0142").e164
    '+13055550142'
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhone(f"phone {raw!r} is empty (a phone number such as +13055550142 expected)")
    if not _PHONE_CHARS.fullmatch(raw.strip()):
        raise InvalidPhone(
            f"phone {raw!r} is not a phone number (it contains letters, an extension or other "
            "characters; digits with spaces, dots, dashes or parentheses expected, such as "
            "+13055550142)",
            field="phone",
        )
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(
            f"phone {raw!r} is not a phone number ({exc._msg}; E.164 such as +13055550142 or a "
            "10-digit US number expected)"
        ) from exc
    # The region is computed once; the *_for_region / *_valid_* helpers then skip recomputing it
    # (parse_phone is on the audit's and the batch decision's hot path).
    region = phonenumbers.region_code_for_number(number)
    if region is None or not phonenumbers.is_valid_number_for_region(number, region):
        raise InvalidPhone(
            f"phone {raw!r} is not a valid number (E.164 such as +13055550142 or a 10-digit US "
            "number with a real area code expected)"
        )
    national = phonenumbers.national_significant_number(number)
    digits = re.sub(r"[^0-9]", "", raw)
    if number.extension or not digits.endswith(national) or len(digits) > len(national) + 6:
        raise InvalidPhone(
            f"phone {raw!r} has digits that would be dropped (one number, E.164 such as "
            "+13055550142 or a 10-digit US number expected)",
            field="phone",
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    number_type = _TYPE_NAMES.get(phonenumbers.number_type(number), "unknown")
    zones = [z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    state: str | None = None
    area_code: str | None = None
    if number.country_code == 1:
        area_code = national[:3]
        if region == "US":
            state = _state_from_description(geocoder.description_for_valid_number(number, "en"))
    return PhoneInfo(
        e164=e164,
        country=region,
        number_type=number_type,
        state=state,
        time_zones=tuple(sorted(zones)),
        area_code=area_code,
    )


def to_e164(raw: str, default_region: str = "US") -> str:
    return parse_phone(raw, default_region).e164
