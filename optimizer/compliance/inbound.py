"""Inbound message classifier (the rules): opt-out keywords and intent, HELP, START, anything else.

Normalisation comes first: case, accents ("no más" = "no mas"), apostrophes, punctuation and
emoji are folded away, so ``STOP``, ``stop.``, ``Stop 🛑`` and ``Stop please`` are the same
keyword; filler words around a lone keyword are ignored, and a letter repeated for emphasis
(``STOPPP``, ``stoooop``) counts once. A keyword alone in any sentence of the message counts
("Who is this? STOP"). Everyday intent in English and Spanish ("take me off your list", "wrong
number", "don't text me", "no me escriban") is matched with the rules table's patterns, which
carry their own negation guards ("don't stop texting me deals").

These rules are the compliance floor: :mod:`optimizer.compliance.intent` may add opt-outs found
by its trained classifier, never remove one found here.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from optimizer.compliance.model import InboundClassification
from optimizer.compliance.rules import RulesTable, load_rules

_APOSTROPHES = re.compile(r"['’‘`´]")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_RUNS = re.compile(r"([a-z])\1+")
_LONG_RUNS = re.compile(r"([a-z])\1{2,}")
# Where a message breaks into sentences (a keyword alone in one of them is an opt-out).
_SENTENCE = re.compile(r"[.!?¡¿,;:\n()\[\]]+")


def normalise(text: str) -> str:
    """Lower-case ASCII words separated by single spaces ("Don't STOP!!" -> "dont stop")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    folded = _APOSTROPHES.sub("", folded.casefold())
    return _NON_WORD.sub(" ", folded).strip()


def squash(words: str) -> str:
    """Every run of a repeated letter once ("stoppp" -> "stop", "all" -> "al"): keywords are
    compared in this form on both sides."""
    return _RUNS.sub(r"\1", words)


def _strip_filler(words: list[str], filler: frozenset[str]) -> list[str]:
    """Drop filler words and two- or three-word filler phrases ("thank you", "i already said")."""
    kept: list[str] = []
    index = 0
    while index < len(words):
        for size in (3, 2):
            if index + size <= len(words) and " ".join(words[index : index + size]) in filler:
                index += size
                break
        else:
            if words[index] not in filler:
                kept.append(words[index])
            index += 1
    return kept


@lru_cache(maxsize=4)
def _squashed(words: frozenset[str]) -> dict[str, str]:
    """Each keyword or filler phrase by its squashed form."""
    return {squash(word): word for word in words}


def _dedupe(words: list[str]) -> list[str]:
    """Consecutive repeats once ("stop stop stop" -> "stop")."""
    return [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]


def _keyword(words: list[str], keywords: frozenset[str], rules: RulesTable) -> str | None:
    """The keyword ``words`` are, once filler, repeats and emphasis are dropped (or None)."""
    squashed = [squash(w) for w in words]
    filler = frozenset(_squashed(rules.filler_words))
    core = _dedupe(_strip_filler(squashed, filler)) or _dedupe(squashed)
    known = _squashed(keywords)
    for candidate in (" ".join(core), "".join(core)):
        if candidate in known:
            return known[candidate]
    return None


def _sentences(text: str) -> list[list[str]]:
    parts = (normalise(part).split() for part in _SENTENCE.split(text))
    return [words for words in parts if words]


def _rule_name(keyword: str) -> str:
    return f"keyword.{keyword.replace(' ', '_')}"


@lru_cache(maxsize=8192)
def classify_inbound(text: str) -> InboundClassification:
    """Classify an inbound message with the rules.

    >>> classify_inbound("Stop please").intent
    'opt_out'
    >>> classify_inbound("STOPPP 🛑").rule
    'keyword.stop'
    >>> classify_inbound("don't stop texting me deals").intent
    'other'
    """
    rules = load_rules()
    words = normalise(text).split()
    if not words:
        return InboundClassification(intent="other", rule=None)
    if (found := _keyword(words, rules.opt_out_keywords, rules)) is not None:
        return InboundClassification(intent="opt_out", rule=_rule_name(found))
    sentences = _sentences(text)
    if len(sentences) > 1:
        for sentence in sentences:
            if (found := _keyword(sentence, rules.opt_out_keywords, rules)) is not None:
                return InboundClassification(intent="opt_out", rule=_rule_name(found))
    whole = " ".join(words)
    calm = _LONG_RUNS.sub(r"\1", whole)  # "aloooone" -> "alone", "stoppp" -> "stop"
    for intent in rules.opt_out_intent:
        if intent.pattern.search(whole) or (calm != whole and intent.pattern.search(calm)):
            return InboundClassification(intent="opt_out", rule=intent.rule)
    if (found := _keyword(words, rules.help_keywords, rules)) is not None:
        return InboundClassification(intent="help", rule=_rule_name(found))
    if (found := _keyword(words, rules.start_keywords, rules)) is not None:
        return InboundClassification(intent="start", rule=_rule_name(found))
    return InboundClassification(intent="other", rule=None)
