"""Segment counting (GSM-7 / UCS-2), placeholders, brand and opt-out wording."""

from __future__ import annotations

import pytest

from optimizer.compliance import evaluate, segment_info
from tests.compliance.factories import BRAND, ctx, local


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [
        ("", "GSM-7", 1, 0),
        ("a" * 160, "GSM-7", 1, 160),
        ("a" * 161, "GSM-7", 2, 161),
        ("a" * 306, "GSM-7", 2, 306),
        ("a" * 307, "GSM-7", 3, 307),
        ("€" * 80, "GSM-7", 1, 160),  # extension characters count 2
        ("{" * 81, "GSM-7", 2, 162),
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 2, 164),  # the escape pair is not split
        ("a" * 70 + "é", "GSM-7", 1, 71),  # é is in GSM-7
        ("a" * 69 + "ç", "UCS-2", 1, 70),  # ç is not: the whole message becomes UCS-2
        ("a" * 70 + "ç", "UCS-2", 2, 71),
        ("😀" * 35, "UCS-2", 1, 70),  # emoji take two UTF-16 units
        ("a" * 68 + "😀", "UCS-2", 1, 70),
        ("a" * 66 + "😀" + "a" * 65, "UCS-2", 2, 133),
        ("a" * 66 + "😀" + "a" * 66, "UCS-2", 3, 134),  # the pair is not split: 66 | 2+65 | 1
    ],
)
def test_segments(text: str, encoding: str, segments: int, units: int) -> None:
    info = segment_info(text)
    assert (info.encoding, info.segments, info.units) == (encoding, segments, units)


def test_content_reasons_are_all_reported() -> None:
    send = local("America/New_York", 2026, 12, 1, 12, 0)
    verdict = evaluate(ctx("+12125550142", send, message="Hi {first_name}! " + "Big deal 🎉 " * 80))
    assert set(verdict.codes) == {
        "content.no_brand",
        "content.no_opt_out_language",
        "content.too_many_segments",
        "content.unrendered_placeholder",
    }
    assert verdict.next_allowed_at is None


def test_opt_out_wording_only_required_first_in_sequence() -> None:
    send = local("America/New_York", 2026, 12, 1, 12, 0)
    message = f"{BRAND}: your quote is ready."
    assert evaluate(ctx("+12125550142", send, message=message)).codes == (
        "content.no_opt_out_language",
    )
    assert evaluate(ctx("+12125550142", send, message=message, first_in_sequence=False)).allowed


@pytest.mark.parametrize(
    "wording",
    [
        "Reply STOP to opt out",
        "Text STOP to unsubscribe",
        "reply 'END' to stop",
        "To opt-out reply STOP",
        "Opt out: STOP",
    ],
)
def test_opt_out_wording_variants(wording: str) -> None:
    send = local("America/New_York", 2026, 12, 1, 12, 0)
    assert evaluate(ctx("+12125550142", send, message=f"{BRAND}: sale! {wording}.")).allowed


@pytest.mark.parametrize(
    "placeholder", ["{name}", "{{ first_name }}", "${offer}", "%(name)s", "[[city]]"]
)
def test_placeholders(placeholder: str) -> None:
    send = local("America/New_York", 2026, 12, 1, 12, 0)
    verdict = evaluate(
        ctx("+12125550142", send, message=f"{BRAND}: hi {placeholder}. Reply STOP to opt out")
    )
    assert "content.unrendered_placeholder" in verdict.codes


def test_house_segment_limit_is_stricter() -> None:
    send = local("America/New_York", 2026, 12, 1, 12, 0)
    message = f"{BRAND}: " + "great offer " * 25 + "Reply STOP to opt out"  # 3 GSM-7 segments
    assert segment_info(message).segments == 3
    assert evaluate(ctx("+12125550142", send, message=message)).allowed
    house = evaluate(ctx("+12125550142", send, message=message, policy_name="house"))
    assert house.codes == ("content.too_many_segments",)
