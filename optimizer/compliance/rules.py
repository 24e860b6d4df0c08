"""The rules table (``rules.json``, shipped in the package), loaded once into frozen dataclasses.

Every legal value the gate uses lives in the JSON file, so a correction is a data change. The
rules version names the file's declared version plus a hash of its bytes and of the ``holidays``
package version, so an edit that forgets to bump the version still changes what decisions log.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import holidays

_DAY_KINDS = ("weekday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class StateRule:
    state: str
    name: str
    # Local windows [start, end) in hours for Mon-Fri, Saturday and Sunday.
    weekday: tuple[int, int]
    saturday: tuple[int, int]
    sunday: tuple[int, int]
    sunday_banned: bool
    holidays_banned: bool
    ban_only_without_consent: bool
    max_per_24h: int | None
    source: str
    status: str

    def window_for(self, weekday_index: int) -> tuple[int, int]:
        """Window for a weekday index (Monday=0 ... Sunday=6)."""
        if weekday_index == 5:
            return self.saturday
        if weekday_index == 6:
            return self.sunday
        return self.weekday


@dataclass(frozen=True, slots=True)
class IntentRule:
    rule: str
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class RulesTable:
    version: str
    federal_window: tuple[int, int]
    federal_source: str
    states: dict[str, StateRule]
    opt_out_keywords: frozenset[str]
    help_keywords: frozenset[str]
    start_keywords: frozenset[str]
    filler_words: frozenset[str]
    keyword_source: str
    opt_out_intent: tuple[IntentRule, ...]
    opt_out_language: tuple[re.Pattern[str], ...]
    opt_out_language_source: str
    placeholder_patterns: tuple[re.Pattern[str], ...]
    brand_source: str
    segments_source: str
    state_cap_window_hours: int
    state_cap_source: str
    not_textable_types: frozenset[str]
    textable_source: str
    consent_source: str
    suppression_source: str
    dnc_max_age_days: int
    dnc_source: str
    split_area_codes: dict[str, tuple[str, ...]]
    area_code_states: dict[str, str]
    state_time_zones: dict[str, tuple[str, ...]]
    # Replies the trained intent classifier may not turn into an opt-out (rules still may).
    model_keep_guards: tuple[re.Pattern[str], ...] = ()

    def __hash__(self) -> int:  # one table per process; identity is enough for caches
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


def _window(value: Any, where: str) -> tuple[int, int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and 0 <= v <= 24 for v in value)
        or value[0] > value[1]
    ):
        raise ValueError(f"rules.json {where}: window {value!r} (expected [start, end] hours 0-24)")
    return (value[0], value[1])


def parse_rules(raw: dict[str, Any], version: str) -> RulesTable:
    """Build a :class:`RulesTable` from the decoded JSON; raise ``ValueError`` naming the entry."""
    states: dict[str, StateRule] = {}
    for code, row in raw["states"].items():
        windows = {kind: _window(row[kind], f"states.{code}.{kind}") for kind in _DAY_KINDS}
        cap = row.get("max_per_24h")
        if cap is not None and (not isinstance(cap, int) or cap < 1):
            raise ValueError(f"rules.json states.{code}.max_per_24h: {cap!r} (positive int)")
        states[code] = StateRule(
            state=code,
            name=row["name"],
            weekday=windows["weekday"],
            saturday=windows["saturday"],
            sunday=windows["sunday"],
            sunday_banned=bool(row["sunday_banned"]),
            holidays_banned=bool(row["holidays_banned"]),
            ban_only_without_consent=bool(row.get("ban_only_without_consent", False)),
            max_per_24h=cap,
            source=row["source"],
            status=row.get("status", ""),
        )
    keywords = raw["keywords"]
    content = raw["content"]
    return RulesTable(
        version=version,
        federal_window=_window(raw["federal"]["window"], "federal.window"),
        federal_source=raw["federal"]["source"],
        states=states,
        opt_out_keywords=frozenset(keywords["opt_out"]),
        help_keywords=frozenset(keywords["help"]),
        start_keywords=frozenset(keywords["start"]),
        filler_words=frozenset(keywords["filler"]),
        keyword_source=keywords["source"],
        opt_out_intent=tuple(
            IntentRule(rule=item["rule"], pattern=re.compile(item["pattern"]))
            for item in raw["opt_out_intent"]
        ),
        opt_out_language=tuple(
            re.compile(p, re.IGNORECASE) for p in raw["opt_out_language"]["patterns"]
        ),
        opt_out_language_source=raw["opt_out_language"]["source"],
        placeholder_patterns=tuple(re.compile(p) for p in content["placeholder_patterns"]),
        brand_source=content["brand_source"],
        segments_source=content["segments_source"],
        state_cap_window_hours=int(raw["frequency"]["state_window_hours"]),
        state_cap_source=raw["frequency"]["source_state"],
        not_textable_types=frozenset(raw["not_textable_types"]),
        textable_source=raw["textable_source"],
        consent_source=raw["consent"]["source"],
        suppression_source=raw["suppression"]["source"],
        dnc_max_age_days=int(raw["dnc"]["max_age_days"]),
        dnc_source=raw["dnc"]["source"],
        split_area_codes={k: tuple(v) for k, v in raw["split_area_codes"].items()},
        area_code_states={
            k: v for k, v in raw.get("area_code_states", {}).items() if not k.startswith("_")
        },
        state_time_zones={k: tuple(v) for k, v in raw["state_time_zones"].items()},
        model_keep_guards=tuple(
            re.compile(p) for p in raw.get("model_keep_guards", {}).get("patterns", ())
        ),
    )


@lru_cache(maxsize=1)
def _rules_bytes() -> bytes:
    return resources.files("optimizer.compliance").joinpath("rules.json").read_bytes()


@lru_cache(maxsize=1)
def load_rules() -> RulesTable:
    """The shipped rules table (cached; parsed once per process)."""
    data = _rules_bytes()
    raw = json.loads(data)
    digest = hashlib.sha256(data + holidays.__version__.encode()).hexdigest()[:8]
    return parse_rules(raw, f"{raw['version']}+{digest}")


def rules_version() -> str:
    """Version of the rules in force, e.g. ``2026.11.22+1a2b3c4d`` (logged with every verdict)."""
    return load_rules().version
