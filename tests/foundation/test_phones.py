"""Phone parsing: E.164, type, state and every candidate time zone."""

from __future__ import annotations

import pytest

from optimizer.phones import InvalidPhone, parse_phone


def test_miami_number_parses_to_e164_florida_eastern() -> None:
    info = parse_phone("(305) 555-0142")
    assert info.e164 == "+13055550142"
    assert info.state == "FL"
    assert info.time_zones == ("America/New_York",)
    assert info.country == "US"
    assert info.area_code == "305"


@pytest.mark.parametrize("raw", ["+1 850-555-0100", "850.555.0100", "+14485550100"])
def test_florida_panhandle_is_florida(raw: str) -> None:
    # The Central side of the panhandle is added by the recipient's resolution
    # (tests/compliance/test_recipient.py), from the one split-area-code table.
    info = parse_phone(raw)
    assert info.state == "FL"
    assert "America/New_York" in info.time_zones


def test_toll_free_number_type() -> None:
    info = parse_phone("1-800-555-0100")
    assert info.number_type == "toll_free"
    assert info.state is None
    assert len(info.time_zones) > 1  # non-geographic: many candidate zones


@pytest.mark.parametrize(
    ("raw", "state", "zone"),
    [
        ("(214) 555-0100", "TX", "America/Chicago"),
        ("(405) 555-0100", "OK", "America/Chicago"),
        ("(410) 555-0100", "MD", "America/New_York"),
        ("(205) 555-0100", "AL", "America/Chicago"),
        ("(212) 555-0100", "NY", "America/New_York"),
        ("(415) 555-0100", "CA", "America/Los_Angeles"),
        ("(206) 555-0100", "WA", "America/Los_Angeles"),
    ],
)
def test_states_and_zones(raw: str, state: str, zone: str) -> None:
    info = parse_phone(raw)
    assert info.state == state
    assert zone in info.time_zones


def test_foreign_number_keeps_its_country() -> None:
    info = parse_phone("+44 20 7946 0958")
    assert info.country == "GB"
    assert info.state is None
    assert info.time_zones == ("Europe/London",)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("garbage", "'garbage' is not a phone number"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("+1555", "'+1555' is not"),
        ("(000) 555-0100", "not a valid number"),
        ("12345678901234567890", "not"),
    ],
)
def test_bad_input_names_the_value(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidPhone, match="expected") as info:
        parse_phone(raw)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "raw",
    ["+1 (305) 555-0142 ext. 9", "305-555-0142 x9", "305 555 0142#9", "1-800-FLOWERS"],
)
def test_extensions_and_letters_are_refused_not_dropped(raw: str) -> None:
    """What the CLI and the audit parse too: never the number with the extension cut off."""
    with pytest.raises(InvalidPhone, match="expected") as info:
        parse_phone(raw)
    assert repr(raw) in str(info.value) and info.value.field == "phone"


@pytest.mark.parametrize("raw", ["(305) 555-0142", "305.555.0142", "+1 305 555 0142"])
def test_ordinary_formats_still_parse(raw: str) -> None:
    assert parse_phone(raw).e164 == "+13055550142"
