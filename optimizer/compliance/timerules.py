"""Time-dependent rules over many instants at once: windows, banned days, frequency caps.

Every candidate state's rules are applied in every candidate zone (the conservative reading of
compliance-rules.md §5). A component is one rule in one zone; an instant is allowed when every
component passes. Instants are int64 nanoseconds since the epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from optimizer.compliance.banned_days import day_from_number, extra_days, holiday_days
from optimizer.compliance.localtime import NS, local_fields, offset_table, year_of, zone
from optimizer.compliance.model import GateContext, to_ns
from optimizer.compliance.rules import RulesTable, StateRule

HOUR_NS = 3600 * NS
DAY_NS = 24 * HOUR_NS
SEARCH_HORIZONS_DAYS = (8, 45)
FIRST_HORIZON_NS = SEARCH_HORIZONS_DAYS[0] * DAY_NS


@dataclass(frozen=True, slots=True)
class Component:
    code: str
    source: str
    zone: str | None
    ok: np.ndarray  # bool per instant
    detail: str


@lru_cache(maxsize=256)
def _ban_detail(rule: StateRule) -> str:
    what = " and ".join(
        w for w, on in (("Sundays", rule.sunday_banned), ("holidays", rule.holidays_banned)) if on
    )
    return f"{rule.name} bans solicitation on {what}"


@lru_cache(maxsize=256)
def _state_windows(rule: StateRule) -> tuple[np.ndarray, np.ndarray]:
    starts = np.array([rule.window_for(d)[0] * 3600 for d in range(7)], dtype=np.int64)
    ends = np.array([rule.window_for(d)[1] * 3600 for d in range(7)], dtype=np.int64)
    return starts, ends


def _fmt(window: tuple[int, int]) -> str:
    return f"{window[0]:02d}:00-{window[1]:02d}:00"


@lru_cache(maxsize=256)
def _state_detail(rule: StateRule) -> str:
    if rule.weekday == rule.saturday == rule.sunday:
        return f"{rule.name} window {_fmt(rule.weekday)}"
    return (
        f"{rule.name} window Mon-Fri {_fmt(rule.weekday)}, Sat {_fmt(rule.saturday)}, "
        f"Sun {_fmt(rule.sunday)}"
    )


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin`` for a small sorted set, without its sort of the left side."""
    if sorted_set.size == 0:
        return np.zeros(values.shape, dtype=bool)
    index = np.minimum(np.searchsorted(sorted_set, values), sorted_set.size - 1)
    return sorted_set[index] == values


def _in_window(seconds: np.ndarray, start_h: int, end_h: int) -> np.ndarray:
    return (seconds >= start_h * 3600) & (seconds < end_h * 3600)


def _count_in(sends: np.ndarray, instants: np.ndarray, window_ns: int) -> np.ndarray:
    """Sends s with instant - window < s <= instant, for each instant."""
    if sends.size == 0:
        return np.zeros(instants.shape, dtype=np.int64)
    upper = np.searchsorted(sends, instants, side="right")
    lower = np.searchsorted(sends, instants - window_ns, side="right")
    return upper - lower


def components(
    ctx: GateContext, rules: RulesTable, instants: np.ndarray, consent_valid: bool
) -> Iterator[Component]:
    """Every time component of ``ctx`` evaluated at ``instants`` (int64 ns UTC)."""
    seconds = instants // NS
    state_rules = _state_rules(ctx, rules)
    if seconds.size == 0:
        return
    yield from _zone_components(ctx, rules, seconds, state_rules, consent_valid)
    yield from _frequency(ctx, rules, instants, state_rules)


def _state_rules(ctx: GateContext, rules: RulesTable) -> list[StateRule]:
    return [rules.states[s] for s in ctx.candidate_states if s in rules.states]


def _zone_components(
    ctx: GateContext,
    rules: RulesTable,
    seconds: np.ndarray,
    state_rules: list[StateRule],
    consent_valid: bool,
) -> Iterator[Component]:
    """The local-time components (windows, banned days) in every candidate zone. They read only
    the zones, states, run-time banned dates and policy of ``ctx`` (``PoolTimeMasks`` keys on
    them)."""
    policy = ctx.policy
    fed_start, fed_end = rules.federal_window
    extra_states = ctx.candidate_states or ("US",)
    lo, hi = (
        (int(seconds[0]),) * 2 if seconds.size == 1 else (int(seconds.min()), int(seconds.max()))
    )
    # Local dates lie within a day of the UTC ones: holidays of these years cover them all.
    years = (day_from_number(lo // 86400 - 1).year, day_from_number(hi // 86400 + 1).year)
    for zone_name in ctx.candidate_zones:
        fields = local_fields(zone_name, seconds, lo, hi)
        sod, weekday, day = fields.second_of_day, fields.weekday, fields.day
        yield Component(
            "quiet_hours.federal",
            rules.federal_source,
            zone_name,
            _in_window(sod, fed_start, fed_end),
            f"federal window {_fmt(rules.federal_window)}",
        )
        for rule in state_rules:
            starts, ends = _state_windows(rule)
            yield Component(
                f"quiet_hours.state.{rule.state}",
                rule.source,
                zone_name,
                (sod >= starts[weekday]) & (sod < ends[weekday]),
                _state_detail(rule),
            )
            if rule.ban_only_without_consent and consent_valid:
                continue
            if rule.sunday_banned or rule.holidays_banned:
                banned = weekday == 6 if rule.sunday_banned else np.zeros(sod.shape, dtype=bool)
                if rule.holidays_banned:
                    banned = banned | _member(day, holiday_days(rule.state, *years))
                yield Component(
                    f"banned_day.state.{rule.state}",
                    rule.source,
                    zone_name,
                    ~banned,
                    _ban_detail(rule),
                )
        if ctx.extra_banned_dates:
            for state in extra_states:
                days = extra_days(ctx.extra_banned_dates, state)
                if days.size:
                    reasons = "; ".join(
                        sorted(
                            {
                                b.reason
                                for b in ctx.extra_banned_dates
                                if b.state.upper() in (state, "US")
                            }
                        )
                    )
                    yield Component(
                        f"banned_day.state.{state}",
                        "run-time banned date (banned_dates table)",
                        zone_name,
                        ~_member(day, days),
                        f"{state} banned date added at run time ({reasons})",
                    )
        if policy.window is not None:
            yield Component(
                "quiet_hours.house",
                policy.source,
                zone_name,
                _in_window(sod, *policy.window),
                f"house window {_fmt(policy.window)}",
            )


def _frequency(
    ctx: GateContext, rules: RulesTable, instants: np.ndarray, state_rules: list[StateRule]
) -> Iterator[Component]:
    sends = ctx.prior_sends_ns
    policy = ctx.policy
    hours = rules.state_cap_window_hours
    capped = any(r.max_per_24h is not None for r in state_rules) or policy.max_per_24h is not None
    # Only counted when some 24-hour cap applies (it is never read otherwise).
    count_24h = _count_in(sends, instants, hours * HOUR_NS) if capped else np.zeros(0, np.int64)
    smallest_state_cap: int | None = None
    for rule in state_rules:
        if rule.max_per_24h is None:
            continue
        cap = rule.max_per_24h
        smallest_state_cap = cap if smallest_state_cap is None else min(cap, smallest_state_cap)
        yield Component(
            f"frequency.state_24h.{rule.state}",
            rule.source,
            None,
            count_24h < cap,
            f"{rule.name} allows at most {cap} marketing texts per rolling {hours} h",
        )
    if policy.max_per_24h is not None and (
        smallest_state_cap is None or policy.max_per_24h < smallest_state_cap
    ):
        yield Component(
            "frequency.house.24h",
            policy.source,
            None,
            count_24h < policy.max_per_24h,
            f"house policy allows at most {policy.max_per_24h} marketing texts per 24 h",
        )
    if policy.max_per_7d is not None:
        ok = _count_in(sends, instants, 7 * DAY_NS) < policy.max_per_7d
        if policy.conversation_hours is not None and ctx.last_reply_at is not None:
            reply = to_ns(ctx.last_reply_at)
            conversation = (instants >= reply) & (
                instants - policy.conversation_hours * HOUR_NS <= reply
            )
            ok = ok | conversation
        yield Component(
            "frequency.house.7d",
            policy.source,
            None,
            ok,
            f"house policy allows at most {policy.max_per_7d} marketing text(s) per 7 days "
            f"unless the lead replied in the last {policy.conversation_hours} h",
        )
    if policy.max_per_30d is not None:
        yield Component(
            "frequency.house.30d",
            policy.source,
            None,
            _count_in(sends, instants, 30 * DAY_NS) < policy.max_per_30d,
            f"house policy allows at most {policy.max_per_30d} marketing texts per 30 days",
        )


def combined_mask(
    ctx: GateContext, rules: RulesTable, instants: np.ndarray, consent_valid: bool
) -> np.ndarray:
    ok = np.ones(instants.shape, dtype=bool)
    for component in components(ctx, rules, instants, consent_valid):
        ok &= component.ok
    return ok


class PoolTimeMasks:
    """``combined_mask`` for many contexts over the same instants, each distinct part computed
    once: the local-time part per (zones, states, run-time banned dates, policy, consent), the
    frequency part per (states, policy, prior sends, last reply). A context's mask is the AND
    of its two parts, which is the AND of all its components: ``combined_mask``'s answer."""

    def __init__(self, rules: RulesTable, instants: np.ndarray) -> None:
        self.rules = rules
        self.instants = instants
        self._seconds = instants // NS
        self._local: dict[tuple[object, ...], np.ndarray] = {}
        self._frequency: dict[tuple[object, ...], np.ndarray] = {}

    def mask(self, ctx: GateContext, consent_valid: bool) -> np.ndarray:
        if self.instants.size == 0:
            return np.ones(self.instants.shape, dtype=bool)
        local_key = (
            ctx.candidate_zones,
            ctx.candidate_states,
            ctx.extra_banned_dates,
            ctx.policy,
            consent_valid,
        )
        local = self._local.get(local_key)
        if local is None:
            parts = _zone_components(
                ctx, self.rules, self._seconds, _state_rules(ctx, self.rules), consent_valid
            )
            local = self._local[local_key] = self._all(parts)
        frequency_key = (
            ctx.candidate_states,
            ctx.policy,
            ctx.prior_sends_ns.tobytes(),
            None if ctx.last_reply_at is None else to_ns(ctx.last_reply_at),
        )
        frequency = self._frequency.get(frequency_key)
        if frequency is None:
            parts = _frequency(ctx, self.rules, self.instants, _state_rules(ctx, self.rules))
            frequency = self._frequency[frequency_key] = self._all(parts)
        return local & frequency

    def _all(self, parts: Iterator[Component]) -> np.ndarray:
        ok = np.ones(self.instants.shape, dtype=bool)
        for component in parts:
            ok &= component.ok
        return ok


def check_zones(ctx: GateContext) -> str | None:
    """A sentence when the zones are unknown or unusable, else ``None``."""
    if not ctx.candidate_zones:
        return "no time zone is known for this number (no area-code zone, no lead time zone)"
    for name in ctx.candidate_zones:
        try:
            zone(name)
        except ValueError as exc:
            return str(exc)
    return None


def candidate_instants(ctx: GateContext, start: int, horizon_ns: int) -> np.ndarray:
    """``start`` first, then every instant up to ``start + horizon_ns`` where some time rule can
    start to pass (local hour boundaries in every zone, cap expiries, the last reply)."""
    end = start + horizon_ns
    parts = [np.array([start], dtype=np.int64)]
    start_s, end_s = start // NS, end // NS
    remainders: set[int] = set()
    for zone_name in ctx.candidate_zones:
        remainders.update(_hour_remainders(zone_name, year_of(start_s), year_of(end_s)))
    for remainder in sorted(remainders):
        first = ((start_s - remainder) // 3600 + 1) * 3600 + remainder
        parts.append(np.arange(first, end_s + 1, 3600, dtype=np.int64) * NS)
    sends = ctx.prior_sends_ns
    if sends.size:
        for window in (24 * HOUR_NS, 7 * DAY_NS, 30 * DAY_NS):
            expiries = sends + window
            parts.append(expiries[(expiries > start) & (expiries <= end)])
    if ctx.last_reply_at is not None:
        reply = to_ns(ctx.last_reply_at)
        if start < reply <= end:
            parts.append(np.array([reply], dtype=np.int64))
    # Duplicates are harmless: the first allowed instant is the same.
    return np.sort(np.concatenate(parts))


@lru_cache(maxsize=1024)
def _hour_remainders(zone_name: str, first_year: int, last_year: int) -> frozenset[int]:
    """UTC seconds past the hour at which local hours start, for every offset the zone uses in
    these years (0 for whole-hour offsets; 1800 for e.g. Asia/Kolkata)."""
    table = offset_table(zone_name, first_year - 1, last_year + 1)
    return frozenset(int(-offset) % 3600 for offset in table.offsets_s)


def search_next_allowed(
    ctx: GateContext, rules: RulesTable, start: int, consent_valid: bool
) -> int | None:
    """Earliest instant >= ``start`` (ns) at which every time component passes, or ``None``."""
    for days in SEARCH_HORIZONS_DAYS:
        candidates = candidate_instants(ctx, start, days * DAY_NS)
        ok = combined_mask(ctx, rules, candidates, consent_valid)
        hits = np.flatnonzero(ok)
        if hits.size:
            return int(candidates[hits[0]])
    return None
