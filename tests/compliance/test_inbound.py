"""Inbound classification: opt-out keywords and intent, HELP, START, and look-alikes."""

from __future__ import annotations

import pytest

from optimizer.compliance import classify_inbound

OPT_OUT = [
    "STOP",
    "stop",
    "stop.",
    "Stop please",
    "please stop",
    "STOP!!!",
    "  Stop  ",
    "STOP 🙏",
    "STOPALL",
    "stop all",
    "Unsubscribe",
    "unsubscribe me",
    "CANCEL",
    "end",
    "Quit",
    "revoke",
    "optout",
    "opt-out",
    "Opt Out",
    "remove",
    "remove me",
    "ARRÊT",
    "take me off your list",
    "Please take me off this list",
    "please remove me from your list",
    "Wrong number",
    "wrong number, who is this?",
    "don't text me",
    "Do not text me again",
    "stop texting me",
    "Stop sending me messages",
    "no more texts please",
    "leave me alone",
    "lose my number",
    "How do I stop these texts?",
    "I'm not interested",
    "opt me out",
    "quit messaging me",
]
NOT_OPT_OUT = [
    "don't stop texting me deals",
    "never stop texting me deals",
    "I can't stop smiling",
    "the bus stop on main",
    "stop by tomorrow?",
    "can I cancel my appointment",
    "what time do you end today",
    "stopped by the store today",
    "I love these texts",
    "Don't unsubscribe me",
    "I'm interested, not interested in the blue one",
    "I want to opt in",
    "yes",
    "",
]


@pytest.mark.parametrize("text", OPT_OUT)
def test_opt_out(text: str) -> None:
    result = classify_inbound(text)
    assert result.intent == "opt_out", text
    assert result.rule


@pytest.mark.parametrize("text", NOT_OPT_OUT)
def test_not_opt_out(text: str) -> None:
    assert classify_inbound(text).intent == "other", text


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("HELP", "help"),
        ("help!", "help"),
        ("Info", "help"),
        ("START", "start"),
        ("unstop", "start"),
    ],
)
def test_help_and_start(text: str, intent: str) -> None:
    assert classify_inbound(text).intent == intent


def test_at_least_thirty_phrasings() -> None:
    assert len(OPT_OUT) + len(NOT_OPT_OUT) >= 30
