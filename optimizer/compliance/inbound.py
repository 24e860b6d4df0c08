"""Inbound message classifier: opt-out keywords and intent, HELP, START, anything else.

Normalisation (trim, case, punctuation, apostrophes) comes first, so ``STOP``, ``stop.`` and
``Stop please`` are the same keyword; filler words around a lone keyword are ignored. Everyday
intent ("take me off your list", "wrong number", "don't text me") is matched with the rules
table's patterns, which carry their own negation guards ("don't stop texting me deals").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from optimizer.compliance.model import InboundClassification
from optimizer.compliance.rules import RulesTable, load_rules

_APOSTROPHES = re.compile(r"['’‘`´]")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    """Lower-case ASCII words separated by single spaces ("Don't STOP!!" -> "dont stop")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    folded = _APOSTROPHES.sub("", folded.casefold())
    return _NON_WORD.sub(" ", folded).strip()


def _strip_filler(words: list[str], rules: RulesTable) -> list[str]:
    """Drop filler words and two-word filler phrases ("thank you", "right now")."""
    kept: list[str] = []
    index = 0
    while index < len(words):
        pair = " ".join(words[index : index + 2])
        if index + 1 < len(words) and pair in rules.filler_words:
            index += 2
            continue
        if words[index] not in rules.filler_words:
            kept.append(words[index])
        index += 1
    return kept


def _keyword(core: str, keywords: frozenset[str]) -> str | None:
    if core in keywords:
        return core
    squashed = core.replace(" ", "")
    return squashed if squashed in keywords else None


@lru_cache(maxsize=8192)
def classify_inbound(text: str) -> InboundClassification:
    """Classify an inbound message.

    >>> classify_inbound("Stop please").intent
    'opt_out'
    >>> classify_inbound("don't stop texting me deals").intent
    'other'
    """
    rules = load_rules()
    words = normalise(text).split()
    if not words:
        return InboundClassification(intent="other", rule=None)
    whole = " ".join(words)
    core = " ".join(_strip_filler(words, rules)) or whole
    if (found := _keyword(core, rules.opt_out_keywords)) is not None:
        return InboundClassification(intent="opt_out", rule=f"keyword.{found.replace(' ', '_')}")
    if (found := _keyword(whole, rules.opt_out_keywords)) is not None:
        return InboundClassification(intent="opt_out", rule=f"keyword.{found.replace(' ', '_')}")
    for intent in rules.opt_out_intent:
        if intent.pattern.search(whole):
            return InboundClassification(intent="opt_out", rule=intent.rule)
    if (found := _keyword(core, rules.help_keywords)) is not None:
        return InboundClassification(intent="help", rule=f"keyword.{found}")
    if (found := _keyword(core, rules.start_keywords)) is not None:
        return InboundClassification(intent="start", rule=f"keyword.{found}")
    return InboundClassification(intent="other", rule=None)
