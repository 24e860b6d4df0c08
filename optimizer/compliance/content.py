"""Message content: GSM-7 / UCS-2 segment counting, placeholders, brand and opt-out wording."""

from __future__ import annotations

from functools import lru_cache

from optimizer.compliance.model import SegmentInfo
from optimizer.compliance.rules import RulesTable

# 3GPP TS 23.038 default alphabet (ESC excluded: it is not a character a sender types).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs an escape plus the character (2 septets).
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def _pack(costs: list[int], part: int) -> int:
    """Segments needed when a character (1 or 2 units) may not straddle two segments."""
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return segments


@lru_cache(maxsize=4096)
def segment_info(text: str) -> SegmentInfo:
    """Encoding, segment count and units of ``text`` as an SMS.

    >>> segment_info("Hi {name}")
    SegmentInfo(encoding='GSM-7', segments=1, units=11)
    >>> segment_info("Hi 😀").encoding
    'UCS-2'
    """
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        units = sum(costs)
        segments = 1 if units <= GSM7_SINGLE else _pack(costs, GSM7_PART)
        return SegmentInfo(encoding="GSM-7", segments=segments, units=units)
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    units = sum(costs)
    segments = 1 if units <= UCS2_SINGLE else _pack(costs, UCS2_PART)
    return SegmentInfo(encoding="UCS-2", segments=segments, units=units)


def find_placeholders(text: str, rules: RulesTable) -> tuple[str, ...]:
    """Unrendered template placeholders left in ``text`` (``{name}``, ``{{ x }}``, ``${x}`` ...)."""
    found: list[str] = []
    for pattern in rules.placeholder_patterns:
        found.extend(match.group(0) for match in pattern.finditer(text))
    return tuple(dict.fromkeys(found))


def has_brand(text: str, brand: str) -> bool:
    """Whether the brand name appears in the text (case and spacing insensitive)."""
    wanted = " ".join(brand.casefold().split())
    return bool(wanted) and wanted in " ".join(text.casefold().split())


def has_opt_out_language(text: str, rules: RulesTable) -> bool:
    """'Reply STOP to opt out' or an equivalent wording from the rules table."""
    return any(pattern.search(text) for pattern in rules.opt_out_language)
