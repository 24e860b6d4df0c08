"""The gate over a pool (``allowed_masks``) answers as ``allowed_mask`` does, lead by lead."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.compliance import BannedDay, GateContext, allowed_mask, evaluate, load_rules
from optimizer.compliance.gate import _static_reasons, allowed_masks
from optimizer.decide.types import PERMANENT_PREFIXES
from tests.compliance.factories import ctx, policy
from tests.compliance.test_property import make_context, scenarios


def _variants(base: GateContext, draw: st.DrawFn) -> list[GateContext]:
    """Contexts sharing most of ``base`` (so that the pool's shared parts are reused) but not
    all: other send histories, run-time banned days, not marketing, an unknown zone."""
    out = [base]
    hours = draw(st.lists(st.integers(1, 24 * 20), max_size=4))
    out.append(
        dataclasses.replace(
            base, prior_sends=tuple(base.send_at - dt.timedelta(hours=h) for h in hours)
        )
    )
    if draw(st.booleans()):
        day = (base.send_at + dt.timedelta(days=draw(st.integers(0, 3)))).date()
        state = draw(st.sampled_from(["US", "FL", "TX", "NY"]))
        out.append(dataclasses.replace(base, extra_banned_dates=(BannedDay(state, day, "storm"),)))
    if draw(st.booleans()):
        out.append(dataclasses.replace(base, marketing=False))
    if draw(st.booleans()):
        out.append(dataclasses.replace(base, lead_time_zone="Mars/Olympus_Mons"))
    return out


def _first_permanent(codes: tuple[str, ...] | list[str]) -> str | None:
    return next((c for c in codes if c.startswith(PERMANENT_PREFIXES)), None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pool_masks_equal_allowed_mask_for_every_context(data: st.DataObject) -> None:
    bases = [make_context(s) for s in data.draw(st.lists(scenarios(), min_size=1, max_size=4))]
    contexts = [c for base in bases for c in _variants(base, data.draw)]
    contexts = data.draw(st.permutations(contexts))
    start = bases[0].send_at + dt.timedelta(minutes=data.draw(st.integers(-90, 90)))
    slots = [start] + [
        start.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=h)
        for h in range(1, 72)
    ]
    pool = allowed_masks(contexts, slots)
    assert pool.allowed.shape == (len(contexts), 72) and pool.allowed.dtype == bool
    rules = load_rules()
    for row, context in enumerate(contexts):
        assert np.array_equal(pool.allowed[row], allowed_mask(context, slots)), row
        assert pool.static_reasons[row] == tuple(_static_reasons(context, rules))
        # The batch counts a lead with no allowed slot by the first permanent block that
        # ``evaluate`` reports.
        codes = [r.code for r in pool.static_reasons[row]]
        assert _first_permanent(codes) == _first_permanent(evaluate(context).codes)


def test_contexts_that_differ_only_in_their_sends_get_their_own_masks() -> None:
    send_at = dt.datetime(2026, 10, 6, 17, 0, tzinfo=dt.UTC)
    quiet = ctx("+12125550142", send_at, policy_name="house")
    busy = dataclasses.replace(quiet, prior_sends=(send_at - dt.timedelta(hours=2),))
    replied = dataclasses.replace(busy, last_reply_at=send_at - dt.timedelta(hours=1))
    slots = [send_at + dt.timedelta(hours=h) for h in range(72)]
    pool = allowed_masks([quiet, busy, replied, quiet], slots)
    for row, context in enumerate([quiet, busy, replied, quiet]):
        assert np.array_equal(pool.allowed[row], allowed_mask(context, slots))
    # The house 7-day cap closes the horizon after a send; a recent reply reopens it.
    assert pool.allowed[0].any() and not pool.allowed[1].any() and pool.allowed[2].any()


def test_pool_masks_fail_closed_like_allowed_mask() -> None:
    send_at = dt.datetime(2026, 10, 6, 17, 0, tzinfo=dt.UTC)
    good = ctx("+12125550142", send_at)
    naive = [dt.datetime(2026, 10, 6, 18, 0)]  # no time zone: cannot be converted
    pool = allowed_masks([good, good], naive)
    assert pool.allowed.shape == (2, 1) and not pool.allowed.any()
    assert not allowed_mask(good, naive).any()
    # No slots at all: an empty mask per context.
    assert allowed_masks([good], []).allowed.shape == (1, 0)


def test_pool_masks_report_permanent_blocks_as_evaluate_does() -> None:
    send_at = dt.datetime(2026, 10, 6, 17, 0, tzinfo=dt.UTC)
    no_consent = ctx("+13055550142", send_at, consents=())
    house = GateContext(
        phone=no_consent.phone, send_at=send_at, message="hello", policy=policy("house")
    )
    slots = [send_at + dt.timedelta(hours=h) for h in range(24)]
    pool = allowed_masks([no_consent, house], slots)
    assert not pool.allowed.any()
    assert [r.code for r in pool.static_reasons[0]] == ["consent.missing"]
    assert _first_permanent([r.code for r in pool.static_reasons[1]]) == "consent.missing"
    assert {"content.no_brand", "content.no_opt_out_language"} <= {
        r.code for r in pool.static_reasons[1]
    }
