"""A deliberately simple, independent reference gate: one instant at a time, plain loops,
zoneinfo for local time, its own copy of the rules. Slow and obviously right (we hope)."""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from optimizer.phones import parse_phone

FEDERAL = (8, 21)
# state: (Mon-Fri, Sat, Sun, Sunday banned, holidays banned, ban only without consent, cap/24h)
STATES = {
    "FL": ((8, 20), (8, 20), (8, 20), False, False, False, 3),
    "OK": ((8, 20), (8, 20), (8, 20), False, False, False, 3),
    "MD": ((8, 20), (8, 20), (8, 20), False, False, False, 3),
    "WA": ((8, 20), (8, 20), (8, 20), False, False, False, None),
    "TX": ((9, 21), (9, 21), (12, 21), False, False, False, None),
    "CT": ((9, 20), (9, 20), (9, 20), False, False, False, None),
    "AL": ((8, 20), (8, 20), (8, 20), True, True, False, None),
    "LA": ((8, 20), (8, 20), (8, 20), True, True, False, None),
    "MS": ((8, 20), (8, 20), (8, 20), True, False, False, None),
    "UT": ((8, 21), (8, 21), (8, 21), True, True, True, None),
    "VA": ((8, 21), (8, 21), (8, 21), False, False, False, None),
    "NJ": ((8, 21), (8, 21), (8, 21), False, False, False, None),
    "AZ": ((8, 21), (8, 21), (8, 21), False, False, False, None),
    "RI": ((9, 18), (10, 17), (10, 17), True, True, False, None),
    "KY": ((10, 21), (10, 21), (10, 21), False, False, False, None),
}
EXTRA_ZONES = {
    "850": {"America/Chicago", "America/New_York"},
    "208": {"America/Boise", "America/Los_Angeles"},
    "270": {"America/Chicago", "America/New_York"},
    "915": {"America/Chicago", "America/Denver"},
}
AREA_STATE = {"206": "WA"}
ADDRESS_ZONES = {
    "TX": {"America/Chicago", "America/Denver"},
    "AL": {"America/Chicago"},
    "NY": {"America/New_York"},
    "UT": {"America/Denver"},
    "RI": {"America/New_York"},
    "FL": {"America/New_York", "America/Chicago"},
}
NOT_TEXTABLE = {
    "toll_free",
    "premium_rate",
    "shared_cost",
    "pager",
    "uan",
    "fixed_line",
    "voicemail",
}
HOUSE = {"window": (9, 20), "cap24": 3, "cap7": 1, "cap30": 4, "conversation_h": 72, "segments": 2}
LEGAL_SEGMENTS = 10


@cache
def _holidays(state: str, year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("US", subdiv=state, years=year))


def zones_and_states(phone: str, address_state: str | None) -> tuple[set[str], set[str]]:
    info = parse_phone(phone)
    zones = set(info.time_zones) | EXTRA_ZONES.get(info.area_code or "", set())
    states = {info.state} if info.state else set()
    if info.area_code in AREA_STATE:
        states.add(AREA_STATE[info.area_code])
    if address_state:
        states.add(address_state)
        zones |= ADDRESS_ZONES[address_state]
    return zones, states


def _in(hour_min: tuple[int, int, int], window: tuple[int, int]) -> bool:
    hour, minute, second = hour_min
    seconds = hour * 3600 + minute * 60 + second
    return window[0] * 3600 <= seconds < window[1] * 3600


def _count(sends: list[dt.datetime], at: dt.datetime, hours: int) -> int:
    return sum(1 for s in sends if at - dt.timedelta(hours=hours) < s <= at)


def time_ok(
    at: dt.datetime,
    *,
    zones: set[str],
    states: set[str],
    house: bool,
    consent: bool,
    sends: list[dt.datetime],
    last_reply: dt.datetime | None,
) -> bool:
    for zone in zones:
        wall = at.astimezone(ZoneInfo(zone))
        hms = (wall.hour, wall.minute, wall.second)
        if not _in(hms, FEDERAL):
            return False
        if house and not _in(hms, HOUSE["window"]):
            return False
        for state in states:
            if state not in STATES:
                continue
            week, sat, sun, sun_ban, hol_ban, only_without, _ = STATES[state]
            window = sun if wall.weekday() == 6 else sat if wall.weekday() == 5 else week
            if not _in(hms, window):
                return False
            if only_without and consent:
                continue
            if sun_ban and wall.weekday() == 6:
                return False
            if hol_ban and wall.date() in _holidays(state, wall.year):
                return False
    for state in states:
        cap = STATES.get(state, (None,) * 7)[6]
        if cap is not None and _count(sends, at, 24) >= cap:
            return False
    if house:
        if _count(sends, at, 24) >= HOUSE["cap24"]:
            return False
        conversation = last_reply is not None and at - dt.timedelta(hours=72) <= last_reply <= at
        if not conversation and _count(sends, at, 24 * 7) >= HOUSE["cap7"]:
            return False
        if _count(sends, at, 24 * 30) >= HOUSE["cap30"]:
            return False
    return True


def segments(text: str) -> int:
    basic = (
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )
    ext = "^{}\\[~]|€\f"
    if all(c in basic or c in ext for c in text):
        units = [2 if c in ext else 1 for c in text]
        single, part = 160, 153
    else:
        units = [len(c.encode("utf-16-le")) // 2 for c in text]
        single, part = 70, 67
    if sum(units) <= single:
        return 1
    count, used = 1, 0
    for u in units:
        if used + u > part:
            count, used = count + 1, 0
        used += u
    return count


def static_ok(
    *,
    phone: str,
    house: bool,
    brand: str,
    message: str,
    first: bool,
    consent_at: dt.datetime | None,
    revoked_at: dt.datetime | None,
    at: dt.datetime,
    suppressed: bool,
    dnc_listed: bool,
    dnc_age: int | None,
) -> tuple[bool, bool]:
    """(every non-time rule passes, consent is valid)."""
    info = parse_phone(phone)
    consent = (
        consent_at is not None
        and consent_at <= at
        and (revoked_at is None or revoked_at < consent_at)
    )
    ok = info.number_type not in NOT_TEXTABLE and consent and not suppressed
    if dnc_age is not None and dnc_age > 31:
        ok = False
    if dnc_listed and (house or not consent):
        ok = False
    if brand.lower() not in message.lower():
        ok = False
    lowered = message.lower()
    if first and not ("reply stop" in lowered or "to opt out" in lowered or "text stop" in lowered):
        ok = False
    if segments(message) > (HOUSE["segments"] if house else LEGAL_SEGMENTS):
        ok = False
    if "{" in message and "}" in message:
        ok = False
    return ok, consent
