"""Phone, consent ledger, suppression, DNC, policies, fail-closed behaviour and the mask."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from optimizer.compliance import (
    ConsentEntry,
    DncCheck,
    GateContext,
    SuppressionStatus,
    allowed_mask,
    evaluate,
    next_allowed_at,
    policy_from_settings,
    rules_version,
)
from optimizer.errors import InvalidInput
from optimizer.phones import PhoneInfo, parse_phone
from optimizer.settings import Settings
from tests.compliance.factories import BRAND, CONSENT_AT, GRANT, ctx, local, policy

NOON = local("America/New_York", 2026, 12, 1, 12, 0)
NY = "+12125550142"


def test_allowed_send_carries_version_and_its_own_time() -> None:
    verdict = evaluate(ctx(NY, NOON))
    assert verdict.allowed and verdict.reasons == () and verdict.codes == ()
    assert verdict.next_allowed_at == NOON
    assert verdict.rules_version == rules_version()


@pytest.mark.parametrize(
    ("number_type", "code"),
    [
        ("toll_free", "phone.not_textable.toll_free"),
        ("premium_rate", "phone.not_textable.premium_rate"),
        ("shared_cost", "phone.not_textable.shared_cost"),
        ("pager", "phone.not_textable.pager"),
        ("uan", "phone.not_textable.uan"),
        ("fixed_line", "phone.not_textable.fixed_line"),
    ],
)
def test_not_textable_types(number_type: str, code: str) -> None:
    phone = dataclasses.replace(parse_phone(NY), number_type=number_type)
    verdict = evaluate(dataclasses.replace(ctx(NY, NOON), phone=phone))
    assert verdict.codes == (code,)
    assert verdict.next_allowed_at is None


@pytest.mark.parametrize("number_type", ["mobile", "fixed_line_or_mobile", "voip"])
def test_textable_types(number_type: str) -> None:
    phone = dataclasses.replace(parse_phone(NY), number_type=number_type)
    assert evaluate(dataclasses.replace(ctx(NY, NOON), phone=phone)).allowed


def test_real_toll_free_number() -> None:
    assert "phone.not_textable.toll_free" in evaluate(ctx("+18005550142", NOON)).codes


def test_invalid_phone() -> None:
    context = GateContext(
        phone=None,
        send_at=NOON,
        message="x",
        policy=policy(),
        phone_raw="+1555",
        phone_error="phone '+1555' is not a valid number",
    )
    verdict = evaluate(context)
    assert "phone.invalid" in verdict.codes
    assert not allowed_mask(context, [NOON]).any()


class TestConsentLedger:
    def test_no_consent(self) -> None:
        assert evaluate(ctx(NY, NOON, consents=())).codes == ("consent.missing",)

    def test_consent_for_another_brand_does_not_count(self) -> None:
        other = ConsentEntry("grant", CONSENT_AT, "Other Brand LLC")
        assert evaluate(ctx(NY, NOON, consents=(other,))).codes == ("consent.missing",)

    def test_consent_granted_after_the_send_does_not_count(self) -> None:
        later = ConsentEntry("grant", NOON + dt.timedelta(minutes=1), BRAND)
        assert evaluate(ctx(NY, NOON, consents=(later,))).codes == ("consent.missing",)

    def test_revoked(self) -> None:
        revoke = ConsentEntry("revoke", CONSENT_AT + dt.timedelta(days=3), None)
        assert evaluate(ctx(NY, NOON, consents=(GRANT, revoke))).codes == ("consent.revoked",)

    def test_revocation_for_another_brand_does_not_count(self) -> None:
        revoke = ConsentEntry("revoke", CONSENT_AT + dt.timedelta(days=3), "Other Brand LLC")
        assert evaluate(ctx(NY, NOON, consents=(GRANT, revoke))).allowed

    def test_new_written_consent_after_revocation_restores(self) -> None:
        revoke = ConsentEntry("revoke", CONSENT_AT + dt.timedelta(days=3), None)
        regrant = ConsentEntry("grant", CONSENT_AT + dt.timedelta(days=5), BRAND, "keyword")
        assert evaluate(ctx(NY, NOON, consents=(GRANT, revoke, regrant))).allowed

    def test_non_marketing_needs_no_consent(self) -> None:
        assert evaluate(
            ctx(NY, NOON, consents=(), marketing=False, message="Your appointment is at 3pm.")
        ).allowed


def test_suppression_denies_without_next_allowed_time() -> None:
    verdict = evaluate(
        ctx(NY, NOON, suppression=SuppressionStatus(since=NOON - dt.timedelta(days=1)))
    )
    assert verdict.codes == ("suppressed.opt_out",)
    assert verdict.next_allowed_at is None
    # Also outside quiet hours: the time reasons are listed, still no next time.
    night = evaluate(ctx(NY, NOON.replace(hour=23), suppression=SuppressionStatus(since=NOON)))
    assert night.codes[0] == "suppressed.opt_out" and night.next_allowed_at is None


class TestDnc:
    def test_listed_with_consent_legal_is_exempt_house_is_not(self) -> None:
        listed = (DncCheck("national", listed=True, age_days=3),)
        assert evaluate(ctx(NY, NOON, dnc=listed)).allowed
        house = evaluate(ctx(NY, NOON, dnc=listed, policy_name="house"))
        assert house.codes == ("dnc.registry.national",)

    def test_listed_without_consent(self) -> None:
        listed = (DncCheck("NY", listed=True, age_days=3),)
        assert evaluate(ctx(NY, NOON, dnc=listed, consents=())).codes == (
            "consent.missing",
            "dnc.registry.NY",
        )

    @pytest.mark.parametrize(("age", "stale"), [(0, False), (31, False), (32, True), (None, True)])
    def test_stale_copy(self, age: int | None, stale: bool) -> None:
        verdict = evaluate(ctx(NY, NOON, dnc=(DncCheck("national", listed=False, age_days=age),)))
        assert (verdict.codes == ("dnc.registry_stale.national",)) is stale
        assert verdict.allowed is not stale


class TestHousePolicy:
    def test_one_per_seven_days_unless_conversation(self) -> None:
        sent = (NOON - dt.timedelta(days=2),)
        verdict = evaluate(ctx(NY, NOON, policy_name="house", prior_sends=sent))
        assert verdict.codes == ("frequency.house.7d",)
        assert verdict.next_allowed_at == sent[0] + dt.timedelta(days=7)
        replied = evaluate(
            ctx(
                NY,
                NOON,
                policy_name="house",
                prior_sends=sent,
                last_reply_at=NOON - dt.timedelta(hours=71),
            )
        )
        assert replied.allowed
        old_reply = evaluate(
            ctx(
                NY,
                NOON,
                policy_name="house",
                prior_sends=sent,
                last_reply_at=NOON - dt.timedelta(hours=73),
            )
        )
        assert old_reply.codes == ("frequency.house.7d",)

    def test_four_per_thirty_days_even_in_conversation(self) -> None:
        sent = tuple(NOON - dt.timedelta(days=d) for d in (1, 2, 20, 25))
        verdict = evaluate(
            ctx(
                NY,
                NOON,
                policy_name="house",
                prior_sends=sent,
                last_reply_at=NOON - dt.timedelta(hours=1),
            )
        )
        assert verdict.codes == ("frequency.house.30d",)
        # The send 25 days ago leaves the 30-day window in 5 days, but by then the conversation
        # (reply 1 h ago) is over and the 7-day cap holds until the send 1 day ago is 7 days old.
        assert verdict.next_allowed_at == NOON + dt.timedelta(days=6)

    def test_house_window_nine_to_twenty(self) -> None:
        verdict = evaluate(ctx(NY, NOON.replace(hour=8, minute=30), policy_name="house"))
        assert verdict.codes == ("quiet_hours.house",)
        assert verdict.next_allowed_at == NOON.replace(hour=9, minute=0)

    def test_settings_drive_the_house_values(self) -> None:
        conf = Settings(
            brand_name="Zed Co",
            house_window_start_hour=10,
            house_window_end_hour=18,
            house_max_per_7d=2,
            house_max_segments=1,
        )
        house = policy_from_settings(conf, "house")
        assert (house.window, house.max_per_7d, house.max_segments, house.brand) == (
            (10, 18),
            2,
            1,
            "Zed Co",
        )
        assert policy_from_settings(conf, "legal").window is None
        with pytest.raises(InvalidInput, match="policy 'strict'"):
            policy_from_settings(conf, "strict")


class TestFailClosed:
    def test_unknown_zone(self) -> None:
        verdict = evaluate(ctx(NY, NOON, lead_time_zone="Mars/Olympus_Mons"))
        assert verdict.codes == ("timezone.unknown",)
        assert verdict.next_allowed_at is None

    def test_no_zone_at_all(self) -> None:
        phone = PhoneInfo(
            e164=NY, country="US", number_type="mobile", state=None, time_zones=(), area_code=None
        )
        verdict = evaluate(dataclasses.replace(ctx(NY, NOON), phone=phone))
        assert verdict.codes == ("timezone.unknown",)
        assert not allowed_mask(dataclasses.replace(ctx(NY, NOON), phone=phone), [NOON]).any()

    def test_a_rule_that_raises_denies(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from optimizer.compliance import gate

        def broken(*_: object) -> list[object]:
            raise RuntimeError("boom")

        rules = tuple((name, broken if name == "dnc" else rule) for name, rule in gate.STATIC_RULES)
        monkeypatch.setattr(gate, "STATIC_RULES", rules)
        verdict = evaluate(ctx(NY, NOON))
        assert verdict.codes == ("gate.error.dnc",)
        assert "boom" in verdict.reasons[0].message
        assert not allowed_mask(ctx(NY, NOON), [NOON]).any()

    def test_time_engine_that_raises_denies(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from optimizer.compliance import gate

        def broken(*_: object) -> None:
            raise RuntimeError("clock broke")

        monkeypatch.setattr(gate, "components", broken)
        monkeypatch.setattr(gate, "combined_mask", broken)
        verdict = evaluate(ctx(NY, NOON))
        assert not verdict.allowed and verdict.codes == ("gate.error.time",)
        assert not allowed_mask(ctx(NY, NOON), [NOON]).any()

    def test_naive_slot_fails_closed(self) -> None:
        mask = allowed_mask(ctx(NY, NOON), [dt.datetime(2026, 12, 1, 17)])
        assert mask.tolist() == [False]


def test_every_failing_rule_is_reported() -> None:
    night = local("America/New_York", 2026, 12, 1, 23, 0)
    context = ctx(
        "+13055550142",
        night,
        consents=(),
        message="deal {x}",
        dnc=(DncCheck("national", True, 40),),
        policy_name="house",
    )
    codes = set(evaluate(context).codes)
    assert {
        "consent.missing",
        "dnc.registry_stale.national",
        "dnc.registry.national",
        "content.no_brand",
        "content.no_opt_out_language",
        "content.unrendered_placeholder",
        "quiet_hours.federal",
        "quiet_hours.state.FL",
        "quiet_hours.house",
    } <= codes


def test_mask_over_72_slots_and_replace_is_cheap() -> None:
    context = ctx("+13055550142", NOON, policy_name="house")
    slots = [NOON + dt.timedelta(hours=h) for h in range(72)]
    mask = allowed_mask(context, slots)
    local_hours = [s.astimezone(NOON.tzinfo).hour for s in slots]
    assert mask.tolist() == [9 <= h < 20 for h in local_hours]
    as_numpy = np.array(
        [np.datetime64(s.astimezone(dt.UTC).replace(tzinfo=None), "ns") for s in slots]
    )
    assert allowed_mask(context, as_numpy).tolist() == mask.tolist()
    moved = dataclasses.replace(context, send_at=NOON.replace(hour=22))
    assert next_allowed_at(moved) == local("America/New_York", 2026, 12, 2, 9, 0)
    assert moved.candidate_zones == context.candidate_zones == ("America/New_York",)
    assert moved.candidate_states == ("FL",)
