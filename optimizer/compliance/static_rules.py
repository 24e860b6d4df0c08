"""Rules that do not depend on the send time: phone, consent, suppression, DNC, content.

Each rule is a pure function ``(ctx, rules) -> list[Reason]``; the gate runs every one of them
and reports all failures. ``consent_state`` is shared with the time rules (Utah's Sunday ban
applies only without consent) and the DNC exemption.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal

from optimizer.compliance.content import (
    find_placeholders,
    has_brand,
    has_opt_out_language,
    segment_info,
)
from optimizer.compliance.model import GateContext, Reason
from optimizer.compliance.rules import RulesTable

ConsentState = Literal["valid", "missing", "revoked"]
StaticRule = Callable[[GateContext, RulesTable], list[Reason]]


@functools.lru_cache(maxsize=4096)
def _brand_key(name: str) -> str:
    """A brand as compared: case and runs of white space ignored (a sender has few brands, so
    each spelling is normalised once per process)."""
    return " ".join(name.casefold().split())


def _same_brand(left: str | None, right: str) -> bool:
    return left is not None and (left == right or _brand_key(left) == _brand_key(right))


def consent_state(ctx: GateContext) -> ConsentState:
    """Prior express written consent for this brand, granted at or before the send time and not
    revoked since (a revocation without a brand covers every brand of the sender). A START
    keyword is not a grant: only a new grant record restores consent."""
    brand = ctx.policy.brand
    latest = None
    for entry in ctx.consents:
        if (
            entry.kind == "grant"
            and _same_brand(entry.brand, brand)
            and entry.occurred_at <= ctx.send_at
            and (latest is None or entry.occurred_at > latest)
        ):
            latest = entry.occurred_at
    if latest is None:
        return "missing"
    for entry in ctx.consents:
        if (
            entry.kind == "revoke"
            and (entry.brand is None or _same_brand(entry.brand, brand))
            and entry.occurred_at >= latest
        ):
            return "revoked"
    return "valid"


def phone_rule(ctx: GateContext, rules: RulesTable) -> list[Reason]:
    if ctx.phone is None:
        detail = ctx.phone_error or f"phone {ctx.phone_raw!r} is not a valid number"
        return [Reason("phone.invalid", detail, "E.164 / phonenumbers validity")]
    if ctx.phone.number_type in rules.not_textable_types:
        kind = ctx.phone.number_type
        return [
            Reason(
                f"phone.not_textable.{kind}",
                f"{ctx.phone.e164} is a {kind.replace('_', ' ')} number, not a consumer handset",
                rules.textable_source,
            )
        ]
    return []


def consent_rule(ctx: GateContext, rules: RulesTable) -> list[Reason]:
    if not ctx.marketing:
        return []
    state = consent_state(ctx)
    if state == "missing":
        return [
            Reason(
                "consent.missing",
                f"no prior express written consent for brand {ctx.policy.brand!r} granted at or "
                f"before {ctx.send_at.isoformat()}",
                rules.consent_source,
            )
        ]
    if state == "revoked":
        return [
            Reason(
                "consent.revoked",
                f"consent for brand {ctx.policy.brand!r} was revoked after it was granted "
                "(a new written consent is needed; START alone does not restore it)",
                rules.consent_source,
            )
        ]
    return []


def suppression_rule(ctx: GateContext, rules: RulesTable) -> list[Reason]:
    if ctx.suppression is None:
        return []
    return [
        Reason(
            "suppressed.opt_out",
            f"number suppressed since {ctx.suppression.since.isoformat()} "
            f"(reason {ctx.suppression.reason!r}); suppression covers every channel",
            rules.suppression_source,
        )
    ]


def dnc_rule(ctx: GateContext, rules: RulesTable) -> list[Reason]:
    if not ctx.marketing:
        return []
    reasons: list[Reason] = []
    if ctx.dnc_registry_missing and not ctx.policy.dnc_waived:
        reasons.append(
            Reason(
                "dnc.registry_missing",
                "no national Do-Not-Call registry copy has been imported, so the number cannot "
                "be checked; import one (optimizer dnc import) or, if every send "
                "carries prior express written consent, set OPTIMIZER_DNC_WAIVED=true",
                rules.dnc_source,
            )
        )
    max_age = ctx.policy.dnc_max_age_days
    exempt = ctx.policy.dnc_consent_exemption and consent_state(ctx) == "valid"
    for check in ctx.dnc:
        if check.age_days is None or check.age_days > max_age:
            age = "of unknown age" if check.age_days is None else f"{check.age_days} days old"
            reasons.append(
                Reason(
                    f"dnc.registry_stale.{check.registry}",
                    f"the {check.registry} DNC registry copy is {age} "
                    f"(at most {max_age} days allowed); import a fresh copy",
                    rules.dnc_source,
                )
            )
        if check.listed and not exempt:
            reasons.append(
                Reason(
                    f"dnc.registry.{check.registry}",
                    f"number is on the {check.registry} Do-Not-Call registry"
                    + ("" if ctx.policy.dnc_consent_exemption else " (house policy: no exemption)"),
                    rules.dnc_source,
                )
            )
    return reasons


def content_rule(ctx: GateContext, rules: RulesTable) -> list[Reason]:
    reasons: list[Reason] = []
    text = ctx.message
    if ctx.marketing and not has_brand(text, ctx.policy.brand):
        reasons.append(
            Reason(
                "content.no_brand",
                f"message does not name the brand {ctx.policy.brand!r}",
                rules.brand_source,
            )
        )
    if ctx.marketing and ctx.first_in_sequence and not has_opt_out_language(text, rules):
        reasons.append(
            Reason(
                "content.no_opt_out_language",
                "first message of a sequence lacks opt-out wording (e.g. 'Reply STOP to opt out')",
                rules.opt_out_language_source,
            )
        )
    info = segment_info(text)
    if info.segments > ctx.policy.max_segments:
        reasons.append(
            Reason(
                "content.too_many_segments",
                f"message is {info.segments} {info.encoding} segments ({info.units} units); "
                f"{ctx.policy.name} policy allows at most {ctx.policy.max_segments}",
                rules.segments_source,
            )
        )
    placeholders = find_placeholders(text, rules)
    if placeholders:
        reasons.append(
            Reason(
                "content.unrendered_placeholder",
                f"message has unrendered placeholder(s) {', '.join(placeholders)}",
                "template rendering",
            )
        )
    return reasons


STATIC_RULES: tuple[tuple[str, StaticRule], ...] = (
    ("phone", phone_rule),
    ("consent", consent_rule),
    ("suppression", suppression_rule),
    ("dnc", dnc_rule),
    ("content", content_rule),
)
