"""The gate: every rule over one :class:`GateContext` -> :class:`Verdict`, and the vectorised
allowed-mask over candidate slots. Fails closed: nothing here raises to the caller."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.compliance.banned_days import holiday_name
from optimizer.compliance.localtime import zone
from optimizer.compliance.model import GateContext, Reason, Verdict, from_ns, to_ns
from optimizer.compliance.rules import RulesTable, load_rules
from optimizer.compliance.static_rules import (
    STATIC_RULES,
    StaticRule,
    consent_state,
    content_rule,
)
from optimizer.compliance.timerules import (
    FIRST_HORIZON_NS,
    Component,
    PoolTimeMasks,
    candidate_instants,
    check_zones,
    combined_mask,
    components,
    search_next_allowed,
)

GATE_SOURCE = "compliance gate (fail closed)"


def _error(rule: str, exc: BaseException) -> Reason:
    return Reason(
        f"gate.error.{rule}",
        f"rule {rule!r} could not be evaluated ({type(exc).__name__}: {exc}); denied (fail closed)",
        GATE_SOURCE,
    )


def _static_reasons(ctx: GateContext, rules: RulesTable) -> list[Reason]:
    reasons: list[Reason] = []
    for name, rule in STATIC_RULES:
        reasons.extend(_static_rule(name, rule, ctx, rules))
    return reasons


def _static_rule(name: str, rule: StaticRule, ctx: GateContext, rules: RulesTable) -> list[Reason]:
    try:
        return list(rule(ctx, rules))
    except Exception as exc:  # a broken rule denies, it never lets a text through
        return [_error(name, exc)]


def _describe(ctx: GateContext, component: Component, state: str | None) -> str:
    if component.zone is None:
        return component.detail
    local = ctx.send_at.astimezone(zone(component.zone))
    joiner = " is outside the " if component.code.startswith("quiet_hours.") else ": "
    text = f"{local:%a %Y-%m-%d %H:%M} in {component.zone}{joiner}{component.detail}"
    if state is not None and component.code.startswith("banned_day."):
        name = holiday_name(state, local.date())
        if name and local.weekday() != 6:
            text += f" ({name})"
    return text


def _time_verdict(
    ctx: GateContext, rules: RulesTable, consent_valid: bool, instants: np.ndarray
) -> tuple[list[Reason], np.ndarray]:
    """Reasons at ``instants[0]`` (the send time) and the combined mask over ``instants``."""
    failing: dict[str, list[Component]] = {}
    ok = np.ones(instants.shape, dtype=bool)
    for component in components(ctx, rules, instants, consent_valid):
        ok &= component.ok
        if not bool(component.ok[0]):
            failing.setdefault(component.code, []).append(component)
    reasons = []
    for code, parts in failing.items():
        state = code.rsplit(".", 1)[-1] if code.startswith("banned_day.state.") else None
        message = "; ".join(dict.fromkeys(_describe(ctx, part, state) for part in parts))
        reasons.append(Reason(code, message, parts[0].source))
    return reasons, ok


# What the time rules of a verdict are memoised under (see ``evaluate``'s ``memo``).
GateMemo = dict[tuple[object, ...], Any]


def _time_key(
    ctx: GateContext, rules: RulesTable, consent_valid: bool, start: int
) -> tuple[object, ...]:
    """Everything the time rules, their messages and the next-allowed search read: the send
    time, the zones and states, the run-time banned dates, the policy, the prior sends, the
    last reply, whether consent is valid, and the rules in force (not the message)."""
    return (
        rules.version,
        start,
        ctx.candidate_zones,
        ctx.candidate_states,
        ctx.extra_banned_dates,
        ctx.policy,
        ctx.prior_sends_ns.tobytes(),
        ctx.last_reply_at,
        consent_valid,
    )


DNC_WAIVED_SUFFIX = "+dnc_waived"


def verdict_rules_version(rules: RulesTable, ctx: GateContext) -> str:
    """The rules version a verdict logs: the table's, plus ``+dnc_waived`` when the operator
    waived DNC checking (so every decision made under the waiver says so)."""
    return rules.version + (DNC_WAIVED_SUFFIX if ctx.policy.dnc_waived else "")


def dnc_waived_in(rules_version: str | None) -> bool:
    """Whether a logged rules version was in force under the DNC waiver."""
    return bool(rules_version) and DNC_WAIVED_SUFFIX in (rules_version or "")


def _evaluate(
    ctx: GateContext, rules: RulesTable, memo: GateMemo | None = None, search: bool = True
) -> Verdict:
    reasons = _static_reasons(ctx, rules)
    time_reasons: list[Reason] = []
    next_at: dt.datetime | None = None
    if ctx.marketing and ctx.phone is not None:
        problem = check_zones(ctx)
        if problem is not None:
            reasons.append(Reason("timezone.unknown", problem, rules.federal_source))
        else:
            try:
                consent_valid = consent_state(ctx) == "valid"
                start = to_ns(ctx.send_at)
                key = _time_key(ctx, rules, consent_valid, start) if memo is not None else None
                if key is not None and memo is not None and ("time", key) in memo:
                    time_reasons = list(memo["time", key])
                else:
                    instants = np.array([start], dtype=np.int64)
                    time_reasons, _ = _time_verdict(ctx, rules, consent_valid, instants)
                    if key is not None and memo is not None:
                        memo["time", key] = tuple(time_reasons)
                if time_reasons and not reasons and search:
                    if key is not None and memo is not None and ("next", key) in memo:
                        next_at = memo["next", key]
                    else:
                        next_at = _search(ctx, rules, consent_valid, start)
                        if key is not None and memo is not None:
                            memo["next", key] = next_at
            except Exception as exc:
                reasons.append(_error("time", exc))
                next_at = None
    version = verdict_rules_version(rules, ctx)
    if not reasons and not time_reasons:
        return Verdict(True, (), ctx.send_at, version)
    if reasons:
        next_at = None
    return Verdict(False, tuple(reasons + time_reasons), next_at, version)


def _search(
    ctx: GateContext, rules: RulesTable, consent_valid: bool, start: int
) -> dt.datetime | None:
    """Only time rules fail at ``start``: the first allowed instant, searched in the first
    horizon, then the long one."""
    instants = candidate_instants(ctx, start, FIRST_HORIZON_NS)
    hits = np.flatnonzero(combined_mask(ctx, rules, instants, consent_valid))
    found = (
        int(instants[hits[0]])
        if hits.size
        else search_next_allowed(ctx, rules, start, consent_valid)
    )
    return from_ns(found) if found is not None else None


def evaluate(
    ctx: GateContext, *, memo: GateMemo | None = None, next_allowed: bool = True
) -> Verdict:
    """Judge one proposed send; every failing rule is reported. Never raises.

    ``memo``: a dict the caller keeps for the verdicts of one decision (never across
    decisions): verdicts on contexts that differ only in the message (or not at all) then
    compute their time rules and next-allowed search once (keyed by everything those read, see
    ``_time_key``; the message-dependent rules always run). ``next_allowed=False``: skip the
    search for the next allowed instant (``next_allowed_at`` is then None), for judging a send
    that already happened."""
    try:
        rules = load_rules()
    except Exception as exc:
        return Verdict(False, (_error("rules", exc),), None, "unknown")
    try:
        return _evaluate(ctx, rules, memo, next_allowed)
    except Exception as exc:
        return Verdict(False, (_error("gate", exc),), None, rules.version)


def next_allowed_at(ctx: GateContext) -> dt.datetime | None:
    """Earliest instant >= ``ctx.send_at`` at which the send would be allowed (``None`` when a
    non-time rule fails or nothing opens within 45 days)."""
    return evaluate(ctx).next_allowed_at


def slots_to_ns(slots_utc: Sequence[dt.datetime] | np.ndarray | Any) -> np.ndarray:
    """Aware datetimes, or a numpy ``datetime64`` array (taken as UTC), to int64 ns."""
    if isinstance(slots_utc, np.ndarray) and slots_utc.dtype.kind == "M":
        return slots_utc.astype("datetime64[ns]").view(np.int64)
    return np.fromiter((to_ns(s) for s in slots_utc), dtype=np.int64)


def allowed_mask(ctx: GateContext, slots_utc: Sequence[dt.datetime] | np.ndarray) -> np.ndarray:
    """Boolean mask: which slots pass every rule. A failing non-time rule (evaluated at
    ``ctx.send_at``) makes the whole mask False; any error makes it False (fail closed)."""
    try:
        instants = slots_to_ns(slots_utc)
    except Exception:
        return np.zeros(len(slots_utc), dtype=bool)
    try:
        rules = load_rules()
        if _static_reasons(ctx, rules):
            return np.zeros(instants.shape, dtype=bool)
        if not ctx.marketing:
            return np.ones(instants.shape, dtype=bool)
        if check_zones(ctx) is not None:
            return np.zeros(instants.shape, dtype=bool)
        return combined_mask(ctx, rules, instants, consent_state(ctx) == "valid")
    except Exception:
        return np.zeros(instants.shape, dtype=bool)


@dataclass(frozen=True)
class PoolMasks:
    """The gate over many contexts and one row of slots."""

    allowed: np.ndarray  # (contexts, slots) bool: row i == allowed_mask(contexts[i], slots)
    static_reasons: tuple[tuple[Reason, ...], ...]  # failing non-time rules of each context


def allowed_masks(
    contexts: Sequence[GateContext], slots_utc: Sequence[dt.datetime] | np.ndarray
) -> PoolMasks:
    """``allowed_mask`` of every context over the same slots, in one pass: the time rules are
    computed once per distinct (zones, states, policy, ...) and per distinct send history, the
    content rule once per distinct message. Also each context's failing non-time rules at its
    ``send_at`` (what ``evaluate`` reports first). Fails closed per context, as ``allowed_mask``."""
    count = len(contexts)
    static: list[tuple[Reason, ...]] = [()] * count
    try:
        instants = slots_to_ns(slots_utc)
    except Exception:
        return PoolMasks(np.zeros((count, len(slots_utc)), dtype=bool), tuple(static))
    allowed = np.zeros((count, instants.shape[0]), dtype=bool)
    try:
        rules = load_rules()
    except Exception:
        return PoolMasks(allowed, tuple(static))
    time_masks = PoolTimeMasks(rules, instants)
    content: dict[tuple[object, ...], list[Reason]] = {}
    for i, ctx in enumerate(contexts):
        try:
            reasons = _pool_static_reasons(ctx, rules, content)
            static[i] = tuple(reasons)
            if reasons:
                continue
            if not ctx.marketing:
                allowed[i] = True
            elif check_zones(ctx) is None:
                allowed[i] = time_masks.mask(ctx, consent_state(ctx) == "valid")
        except Exception:
            allowed[i] = False
    return PoolMasks(allowed, tuple(static))


def _pool_static_reasons(
    ctx: GateContext, rules: RulesTable, content: dict[tuple[object, ...], list[Reason]]
) -> list[Reason]:
    """``_static_reasons``, with the content rule's answer shared by contexts that agree on
    everything it reads (the message, marketing, first in sequence, the policy)."""
    reasons: list[Reason] = []
    for name, rule in STATIC_RULES:
        if rule is content_rule:
            key = (ctx.message, ctx.marketing, ctx.first_in_sequence, ctx.policy)
            if key not in content:
                content[key] = _static_rule(name, rule, ctx, rules)
            reasons.extend(content[key])
        else:
            reasons.extend(_static_rule(name, rule, ctx, rules))
    return reasons
