"""The gate: every rule over one :class:`GateContext` -> :class:`Verdict`, and the vectorised
allowed-mask over candidate slots. Fails closed: nothing here raises to the caller."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np

from optimizer.compliance.banned_days import holiday_name
from optimizer.compliance.localtime import zone
from optimizer.compliance.model import GateContext, Reason, Verdict, from_ns, to_ns
from optimizer.compliance.rules import RulesTable, load_rules
from optimizer.compliance.static_rules import STATIC_RULES, consent_state
from optimizer.compliance.timerules import (
    FIRST_HORIZON_NS,
    Component,
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
        try:
            reasons.extend(rule(ctx, rules))
        except Exception as exc:  # a broken rule denies, it never lets a text through
            reasons.append(_error(name, exc))
    return reasons


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


def _evaluate(ctx: GateContext, rules: RulesTable) -> Verdict:
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
                instants = np.array([start], dtype=np.int64)
                time_reasons, _ = _time_verdict(ctx, rules, consent_valid, instants)
                if time_reasons and not reasons:
                    # Only time rules fail: search the first horizon, then the long one.
                    instants = candidate_instants(ctx, start, FIRST_HORIZON_NS)
                    hits = np.flatnonzero(combined_mask(ctx, rules, instants, consent_valid))
                    found = (
                        int(instants[hits[0]])
                        if hits.size
                        else search_next_allowed(ctx, rules, start, consent_valid)
                    )
                    next_at = from_ns(found) if found is not None else None
            except Exception as exc:
                reasons.append(_error("time", exc))
                next_at = None
    if not reasons and not time_reasons:
        return Verdict(True, (), ctx.send_at, rules.version)
    if reasons:
        next_at = None
    return Verdict(False, tuple(reasons + time_reasons), next_at, rules.version)


def evaluate(ctx: GateContext) -> Verdict:
    """Judge one proposed send; every failing rule is reported. Never raises."""
    try:
        rules = load_rules()
    except Exception as exc:
        return Verdict(False, (_error("rules", exc),), None, "unknown")
    try:
        return _evaluate(ctx, rules)
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
