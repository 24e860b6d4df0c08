"""Property tests: the gate agrees with the simple reference in reference.py."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.compliance import (
    ConsentEntry,
    DncCheck,
    GateContext,
    SuppressionStatus,
    allowed_mask,
    evaluate,
)
from optimizer.phones import parse_phone
from tests.compliance import reference
from tests.compliance.factories import BRAND, policy

PHONES = [
    "+13055550142",
    "+18505550142",
    "+12145550142",
    "+19155550142",
    "+12055550142",
    "+14055550142",
    "+12125550142",
    "+18015550142",
    "+14015550142",
    "+15025550142",
    "+12085550142",
    "+12705550142",
    "+16025550142",
    "+15045550142",
    "+12065550142",
    "+16015550142",
    "+18005550142",
]
MESSAGES = [
    f"{BRAND}: 20% off this week. Reply STOP to opt out.",
    f"{BRAND}: still want that quote?",
    "Big sale this week! Reply STOP to opt out.",
    f"Hi {{name}}, {BRAND} here. Reply STOP to opt out.",
    f"{BRAND} 🎉 spring deals are here! Reply STOP to opt out. " + "More details inside. " * 4,
    f"{BRAND}: " + "a long message about our offers " * 12 + "Text STOP to opt out",
]
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
STEP = dt.timedelta(minutes=5)  # every time is on a 5-minute grid; so are all rule boundaries


def grid(max_steps: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=max_steps)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    # Send times over two years, with extra weight on the DST days.
    dst_days = [dt.datetime(2026, 3, 8, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, tzinfo=dt.UTC)]
    if draw(st.booleans()):
        t0 = draw(st.sampled_from(dst_days)) + STEP * draw(grid(24 * 12 * 2))
    else:
        t0 = BASE + STEP * draw(grid(2 * 365 * 24 * 12))
    spread = draw(st.sampled_from([35 * 24 * 12, 30 * 12]))  # 35 days, or a burst of 30 hours
    sends = sorted(t0 - STEP * draw(grid(spread)) for _ in range(draw(st.integers(0, 5))))
    reply = None
    if draw(st.booleans()):
        reply = t0 - STEP * draw(grid(6 * 24 * 12))
    # sampled_from favours its first item: the common case comes first.
    rare = st.sampled_from([False] * 12 + [True])
    consent_at = None if draw(rare) else t0 - STEP * draw(grid(400 * 24 * 12))
    revoked_at = None
    if consent_at is not None and draw(rare):
        revoked_at = consent_at + STEP * draw(grid(10))
    return {
        "phone": draw(st.sampled_from(PHONES)),
        "address_state": draw(
            st.sampled_from([None, None, None, "TX", "AL", "NY", "UT", "RI", "FL"])
        ),
        "t0": t0,
        "sends": sends,
        "reply": reply,
        "consent_at": consent_at,
        "revoked_at": revoked_at,
        "suppressed": draw(rare),
        "dnc": draw(st.sampled_from([None] * 8 + [(True, 3), (False, 40), (False, 5)])),
        "message": draw(st.sampled_from([MESSAGES[0]] * 6 + MESSAGES)),
        "first": draw(st.booleans()),
        "house": draw(st.booleans()),
    }


def make_context(s: dict[str, object]) -> GateContext:
    consents = []
    if s["consent_at"] is not None:
        consents.append(ConsentEntry("grant", s["consent_at"], BRAND))  # type: ignore[arg-type]
    if s["revoked_at"] is not None:
        consents.append(ConsentEntry("revoke", s["revoked_at"], None))  # type: ignore[arg-type]
    dnc = s["dnc"]
    return GateContext(
        phone=parse_phone(s["phone"]),  # type: ignore[arg-type]
        send_at=s["t0"],  # type: ignore[arg-type]
        message=s["message"],  # type: ignore[arg-type]
        policy=policy("house" if s["house"] else "legal"),
        address_state=s["address_state"],  # type: ignore[arg-type]
        consents=tuple(consents),
        suppression=SuppressionStatus(since=BASE) if s["suppressed"] else None,
        dnc=(DncCheck("national", dnc[0], dnc[1]),) if dnc else (),  # type: ignore[index]
        prior_sends=tuple(s["sends"]),  # type: ignore[arg-type]
        last_reply_at=s["reply"],  # type: ignore[arg-type]
        first_in_sequence=s["first"],  # type: ignore[arg-type]
    )


def reference_allowed(s: dict[str, object], at: dt.datetime) -> bool:
    key = id(s)
    if key not in _STATIC or _STATIC[key][0] is not s:
        _STATIC[key] = (s, _reference_static(s))
    ok, consent, zones, states = _STATIC[key][1]
    if not ok:
        return False
    return reference.time_ok(
        at,
        zones=zones,
        states=states,
        house=bool(s["house"]),
        consent=consent,
        sends=s["sends"],  # type: ignore[arg-type]
        last_reply=s["reply"],  # type: ignore[arg-type]
    )


_STATIC: dict[int, tuple[dict[str, object], tuple[bool, bool, set[str], set[str]]]] = {}


def _reference_static(s: dict[str, object]) -> tuple[bool, bool, set[str], set[str]]:
    dnc = s["dnc"]
    ok, consent = reference.static_ok(
        phone=s["phone"],  # type: ignore[arg-type]
        house=bool(s["house"]),
        brand=BRAND,
        message=s["message"],  # type: ignore[arg-type]
        first=bool(s["first"]),
        consent_at=s["consent_at"],  # type: ignore[arg-type]
        revoked_at=s["revoked_at"],  # type: ignore[arg-type]
        at=s["t0"],  # type: ignore[arg-type]
        suppressed=bool(s["suppressed"]),
        dnc_listed=bool(dnc and dnc[0]),  # type: ignore[index]
        dnc_age=dnc[1] if dnc else None,  # type: ignore[index]
    )
    zones, states = reference.zones_and_states(s["phone"], s["address_state"])  # type: ignore[arg-type]
    return ok, consent, zones, states


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(scenarios())
def test_allowed_matches_reference_and_next_allowed_is_the_earliest(s: dict[str, object]) -> None:
    ctx = make_context(s)
    verdict = evaluate(ctx)
    assert verdict.allowed == reference_allowed(s, s["t0"]), verdict.codes  # type: ignore[arg-type]
    if verdict.allowed or verdict.next_allowed_at is None:
        return
    found = verdict.next_allowed_at
    assert found > s["t0"]  # type: ignore[operator]
    assert reference_allowed(s, found)
    assert evaluate(dataclasses.replace(ctx, send_at=found)).allowed
    # No earlier time on the 5-minute grid (every boundary lies on it) is allowed.
    at = s["t0"] + STEP  # type: ignore[operator]
    while at < found:
        assert not reference_allowed(s, at), at
        at += STEP
    # ... and no earlier minute in the hour before it.
    at = max(s["t0"], found - dt.timedelta(hours=1))  # type: ignore[type-var]
    while at < found:
        assert not reference_allowed(s, at), at
        at += dt.timedelta(minutes=1)


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_mask_agrees_with_evaluate_over_72_hourly_slots(s: dict[str, object]) -> None:
    ctx = make_context(s)
    slots = [s["t0"] + dt.timedelta(hours=h) for h in range(72)]  # type: ignore[operator]
    mask = allowed_mask(ctx, slots)
    as_array = allowed_mask(
        ctx, np.array([np.datetime64(t.replace(tzinfo=None), "ns") for t in slots])
    )
    assert mask.dtype == bool and mask.shape == (72,)
    assert (mask == as_array).all()
    static_ok = not [
        r
        for r in evaluate(ctx).codes
        if r.split(".")[0]
        in {"phone", "consent", "suppressed", "dnc", "content", "timezone", "gate"}
    ]
    for slot, allowed in zip(slots, mask, strict=True):
        expected = static_ok and reference_allowed(s, slot)
        assert bool(allowed) == expected, slot


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=400))
def test_segments_match_reference(text: str) -> None:
    from optimizer.compliance import segment_info

    assert segment_info(text).segments == reference.segments(text)


@settings(max_examples=80, deadline=None)
@given(scenarios(), st.lists(st.sampled_from(MESSAGES), min_size=1, max_size=3), grid(48))
def test_a_memo_shared_by_one_decisions_verdicts_changes_none_of_them(
    s: dict[str, object], messages: list[str], later_hours: int
) -> None:
    """The verdicts a decision asks for (one context with several messages, the send time now
    and later) are the same with a shared memo as each computed alone."""
    ctx = make_context(s)
    later = s["t0"] + dt.timedelta(hours=later_hours)  # type: ignore[operator]
    asks = [ctx, *(ctx.with_message(m) for m in messages), ctx.with_send_at(later)]
    asks += [ctx.with_message(messages[0]).with_send_at(s["t0"]), ctx]  # type: ignore[arg-type]
    memo: dict[tuple[object, ...], object] = {}
    for ask in asks:
        assert evaluate(ask, memo=memo) == evaluate(ask)
    assert memo  # the memo was used
    # The copies equal what dataclasses.replace derives again (the derived fields included).
    for copy, derived in (
        (ctx.with_message(messages[0]), dataclasses.replace(ctx, message=messages[0])),
        (ctx.with_send_at(later), dataclasses.replace(ctx, send_at=later)),
    ):
        assert copy == derived
        assert (copy.candidate_zones, copy.candidate_states) == (
            derived.candidate_zones,
            derived.candidate_states,
        )
        assert copy.prior_sends_ns.tobytes() == derived.prior_sends_ns.tobytes()
