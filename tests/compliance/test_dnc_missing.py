"""DNC fails closed: no national registry copy in the store denies (``dnc.registry_missing``),
unless the operator waived DNC checking, which every verdict's rules version then records;
the demo's simulated copy lists none of its world's leads."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from optimizer.compliance import evaluate
from optimizer.compliance.dnc import import_dnc, parse_dnc_text
from optimizer.compliance.gate import dnc_waived_in
from optimizer.compliance.store_context import build_context, build_contexts
from optimizer.demo.registry import simulated_registry
from optimizer.settings import Settings
from optimizer.store.db import transaction
from optimizer.store.models import Consent, Lead
from tests.compliance.factories import BRAND, GOOD_MESSAGE

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # 11:00 in New York, a Tuesday
SETTINGS = Settings(brand_name=BRAND, policy="legal")


def _lead(session: Session) -> Lead:
    lead = Lead(
        external_id="lead-1",
        phone_e164="+12125550142",
        attributes={},
        created_at=NOW - dt.timedelta(days=60),
        updated_at=NOW - dt.timedelta(days=60),
    )
    session.add(lead)
    session.flush()
    at = NOW - dt.timedelta(days=30)
    session.add(
        Consent(
            kind="grant", lead_id=lead.id, phone_e164=lead.phone_e164, brand=BRAND,
            occurred_at=at, recorded_at=at, method="web",
        )
    )  # fmt: skip
    session.flush()
    return lead


def _codes(session: Session, lead: Lead, settings: Settings) -> tuple[tuple[str, ...], str]:
    single = build_context(
        session, lead=lead, message=GOOD_MESSAGE, send_at=NOW, now=NOW, settings=settings
    )
    batch = build_contexts(
        session, leads=[lead], message=GOOD_MESSAGE, send_at=NOW, now=NOW, settings=settings
    )[lead.id]
    assert single.dnc_registry_missing == batch.dnc_registry_missing
    verdict = evaluate(single)
    assert evaluate(batch).codes == verdict.codes
    return verdict.codes, verdict.rules_version


def test_no_national_copy_denies(bare_sessions: sessionmaker[Session]) -> None:
    with transaction(bare_sessions) as session:
        lead = _lead(session)
        codes, version = _codes(session, lead, SETTINGS)
        assert codes == ("dnc.registry_missing",)
        assert not dnc_waived_in(version)
        # A state list alone does not stand in for the national registry.
        import_dnc(
            session, parsed=parse_dnc_text(""), registry="NY",
            as_of=(NOW - dt.timedelta(days=2)).date(), now=NOW - dt.timedelta(days=1),
            source_name="ny.txt",
        )  # fmt: skip
        assert _codes(session, lead, SETTINGS)[0] == ("dnc.registry_missing",)
        # A national copy imported after the decision's time does not count for it either.
        import_dnc(
            session, parsed=parse_dnc_text(""), registry="national",
            as_of=NOW.date(), now=NOW + dt.timedelta(hours=1), source_name="late.txt",
        )  # fmt: skip
        assert _codes(session, lead, SETTINGS)[0] == ("dnc.registry_missing",)
        import_dnc(
            session, parsed=parse_dnc_text(""), registry="national",
            as_of=(NOW - dt.timedelta(days=3)).date(), now=NOW - dt.timedelta(days=2),
            source_name="national.txt",
        )  # fmt: skip
        codes, version = _codes(session, lead, SETTINGS)
        assert codes == ()


def test_the_waiver_allows_and_is_recorded(bare_sessions: sessionmaker[Session]) -> None:
    waived = SETTINGS.model_copy(update={"dnc_waived": True})
    with transaction(bare_sessions) as session:
        lead = _lead(session)
        codes, version = _codes(session, lead, waived)
        assert codes == ()
        assert version.endswith("+dnc_waived") and dnc_waived_in(version)
        assert len(version) <= 40  # the decision log's column


def test_non_marketing_sends_are_not_held_by_a_missing_registry(
    bare_sessions: sessionmaker[Session],
) -> None:
    with transaction(bare_sessions) as session:
        lead = _lead(session)
        context = build_context(
            session, lead=lead, message="Acme Dental: you are unsubscribed.", send_at=NOW,
            now=NOW, settings=SETTINGS, marketing=False,
        )  # fmt: skip
        assert evaluate(context).allowed


def test_the_demo_registry_lists_no_lead() -> None:
    phones = [f"+1212555{n:04d}" for n in range(0, 2000, 7)] + ["+13055550142"]
    registry = simulated_registry(phones, seed=7, count=300)
    assert len(registry.numbers) == 300
    assert not set(registry.numbers) & set(phones)
    assert {n[:5] for n in registry.numbers} <= {"+1212", "+1305"}
    assert simulated_registry(phones, seed=7, count=300) == registry


def test_judging_a_past_send_skips_only_the_next_allowed_search() -> None:
    from tests.compliance.factories import ctx, local

    night = ctx("+12125550142", local("America/New_York", 2026, 12, 1, 23, 30))
    full = evaluate(night)
    judged = evaluate(night, next_allowed=False)
    assert not full.allowed and full.next_allowed_at is not None
    assert judged.codes == full.codes and not judged.allowed
    assert judged.next_allowed_at is None
