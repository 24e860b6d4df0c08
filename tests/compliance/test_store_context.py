"""Contexts loaded from the store; opt-outs recorded append-only; the batch form's query count."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from optimizer.compliance import evaluate
from optimizer.compliance.dnc import import_dnc, parse_dnc_text
from optimizer.compliance.store_context import (
    add_banned_date,
    build_context,
    build_contexts,
    opt_out_confirmation,
    record_opt_out,
)
from optimizer.settings import Settings
from optimizer.store.db import session_factory, transaction
from optimizer.store.models import Consent, Event, Lead, Suppression
from tests.compliance.factories import BRAND, GOOD_MESSAGE

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # 11:00 in New York, a Tuesday
SETTINGS = Settings(brand_name=BRAND)


def _lead(session: Session, n: int, phone: str = "+12125550142", state: str | None = None) -> Lead:
    lead = Lead(
        external_id=f"lead-{n}",
        phone_e164=phone,
        state=state,
        attributes={},
        created_at=NOW - dt.timedelta(days=60),
        updated_at=NOW - dt.timedelta(days=60),
    )
    session.add(lead)
    session.flush()
    return lead


def _grant(session: Session, lead: Lead, at: dt.datetime) -> None:
    session.add(
        Consent(
            kind="grant",
            lead_id=lead.id,
            phone_e164=lead.phone_e164,
            brand=BRAND,
            occurred_at=at,
            recorded_at=at,
            method="web",
        )
    )


def _event(
    session: Session,
    lead: Lead,
    kind: str,
    at: dt.datetime,
    *,
    marketing: bool = False,
    text: str | None = None,
) -> None:
    session.add(
        Event(
            idempotency_key=f"{lead.id}-{kind}-{at.isoformat()}",
            lead_id=lead.id,
            type=kind,
            channel="sms",
            occurred_at=at,
            recorded_at=at,
            marketing=marketing,
            text=text,
        )
    )


def test_context_from_store_and_opt_out_round_trip(any_engine: Engine) -> None:
    factory = session_factory(any_engine)
    with transaction(factory) as session:
        lead = _lead(session, 1)
        _grant(session, lead, NOW - dt.timedelta(days=30))
        context = build_context(
            session,
            lead=lead,
            message=GOOD_MESSAGE,
            send_at=NOW,
            now=NOW,
            settings=SETTINGS,
            policy="house",
        )
        assert context.first_in_sequence is True
        assert evaluate(context).allowed

        _event(session, lead, "sent", NOW - dt.timedelta(days=2), marketing=True)
        _event(session, lead, "sent", NOW - dt.timedelta(days=40), marketing=True)
        _event(session, lead, "sent", NOW - dt.timedelta(hours=5), marketing=False)
        _event(session, lead, "reply", NOW - dt.timedelta(days=5), text="sounds good")
        session.flush()
        context = build_context(
            session,
            lead=lead,
            message=GOOD_MESSAGE,
            send_at=NOW,
            now=NOW,
            settings=SETTINGS,
            policy="house",
        )
        assert context.first_in_sequence is False
        assert context.prior_sends == (NOW - dt.timedelta(days=2),)
        assert context.last_reply_at == NOW - dt.timedelta(days=5)
        verdict = evaluate(context)
        assert verdict.codes == ("frequency.house.7d",)
        assert verdict.next_allowed_at == NOW + dt.timedelta(days=5)

        # A reply that is an opt-out is not a conversation.
        _event(session, lead, "inbound", NOW - dt.timedelta(hours=2), text="STOP")
        session.flush()
        context = build_context(
            session, lead=lead, message=GOOD_MESSAGE, send_at=NOW, now=NOW, settings=SETTINGS
        )
        assert context.last_reply_at == NOW - dt.timedelta(days=5)

        record = record_opt_out(
            session,
            lead=lead,
            phone_e164=lead.phone_e164,
            text="STOP",
            channel="sms",
            at=NOW - dt.timedelta(hours=2),
            rule="keyword.stop",
            confirmation_text=opt_out_confirmation(SETTINGS),
        )
        assert BRAND in record.confirmation_text
        context = build_context(
            session,
            lead=lead,
            message=GOOD_MESSAGE,
            send_at=NOW,
            now=NOW,
            settings=SETTINGS,
            policy="legal",
        )
        verdict = evaluate(context)
        assert set(verdict.codes) == {"consent.revoked", "suppressed.opt_out"}
        assert verdict.next_allowed_at is None
        # Every channel: the suppression is by number, so another lead with it is denied too.
        twin = _lead(session, 2)
        twin_ctx = build_context(
            session, lead=twin, message=GOOD_MESSAGE, send_at=NOW, now=NOW, settings=SETTINGS
        )
        assert "suppressed.opt_out" in evaluate(twin_ctx).codes
        revokes = session.scalars(select(Consent).where(Consent.kind == "revoke")).all()
        assert [(r.raw_text, r.rule_matched, r.channel) for r in revokes] == [
            ("STOP", "keyword.stop", "sms")
        ]
        suppressions = session.scalars(select(Suppression)).all()
        assert [(s.action, s.reason) for s in suppressions] == [("suppress", "opt_out")]

        # A reversal record (newest wins) lifts the suppression; a new grant restores consent.
        session.add(
            Suppression(
                phone_e164=lead.phone_e164,
                lead_id=lead.id,
                action="reverse",
                reason="re_opt_in",
                source="api",
                created_at=NOW - dt.timedelta(hours=1),
            )
        )
        _grant(session, lead, NOW - dt.timedelta(hours=1))
        session.flush()
        context = build_context(
            session,
            lead=lead,
            message=GOOD_MESSAGE,
            send_at=NOW,
            now=NOW,
            settings=SETTINGS,
            policy="legal",
        )
        assert evaluate(context).allowed


def test_dnc_and_banned_dates_from_store(bare_sessions: sessionmaker[Session]) -> None:
    with transaction(bare_sessions) as session:
        lead = _lead(session, 1, phone="+15045550142")  # Louisiana
        _grant(session, lead, NOW - dt.timedelta(days=30))
        parsed = parse_dnc_text("+15045550142\n(212) 555-0142\nnot a number\n")
        assert [b.line for b in parsed.invalid] == [3]
        import_dnc(
            session,
            parsed=parsed,
            registry="LA",
            as_of=(NOW - dt.timedelta(days=3)).date(),
            now=NOW,
            source_name="la.txt",
        )
        import_dnc(
            session,
            parsed=parse_dnc_text("phone\n+13055550142\n"),
            registry="national",
            as_of=(NOW - dt.timedelta(days=40)).date(),
            now=NOW,
            source_name="n.csv",
        )
        add_banned_date(
            session,
            state="LA",
            day=dt.date(2026, 12, 2),
            reason="governor-declared holiday",
            now=NOW,
        )
        session.flush()
        send = NOW + dt.timedelta(days=1)  # Wednesday 2 Dec
        context = build_context(
            session,
            lead=lead,
            message=GOOD_MESSAGE,
            send_at=send,
            now=NOW,
            settings=SETTINGS,
            policy="house",
        )
        codes = evaluate(context).codes
        assert "dnc.registry.LA" in codes
        assert "dnc.registry_stale.national" in codes
        assert "banned_day.state.LA" in codes
        legal = evaluate(
            build_context(
                session,
                lead=lead,
                message=GOOD_MESSAGE,
                send_at=send,
                now=NOW,
                settings=SETTINGS,
                policy="legal",
            )
        )
        assert "dnc.registry.LA" not in legal.codes  # written consent exempts under the legal floor
        # A state registry does not cover numbers from other states.
        ny = _lead(session, 2)
        ny_ctx = build_context(
            session, lead=ny, message=GOOD_MESSAGE, send_at=send, now=NOW, settings=SETTINGS
        )
        assert [c.registry for c in ny_ctx.dnc] == ["national"]


def test_batch_form_uses_a_few_queries(engine: Engine, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        leads = [_lead(session, n, phone=f"+1212555{n:04d}") for n in range(1200)]
        for lead in leads[::3]:
            _grant(session, lead, NOW - dt.timedelta(days=10))
            _event(session, lead, "sent", NOW - dt.timedelta(days=1), marketing=True)
        session.flush()
        statements: list[str] = []

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        try:
            contexts = build_contexts(
                session,
                leads=leads,
                message=GOOD_MESSAGE,
                send_at=NOW,
                now=NOW,
                settings=SETTINGS,
                policy="legal",
            )
        finally:
            event.remove(engine, "before_cursor_execute", count)
        # 3 chunks of 500 leads, ~5 queries per chunk, plus DNC imports and banned dates.
        assert len(statements) <= 20
        assert len(contexts) == 1200
        assert list(contexts) == [lead.id for lead in leads]
        allowed = [evaluate(c).allowed for c in contexts.values()]
        assert allowed == [n % 3 == 0 for n in range(1200)]
        assert [contexts[lead.id].first_in_sequence for lead in leads[:4]] == [
            False,
            True,
            True,
            False,
        ]


def test_batch_form_checks_lengths(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        lead = _lead(session, 1)
        with pytest.raises(ValueError, match="1 leads but 2 messages"):
            build_contexts(
                session, leads=[lead], message=["a", "b"], send_at=NOW, now=NOW, settings=SETTINGS
            )


def test_single_lead_context_equals_the_batch_form(any_engine: Engine) -> None:
    """The single-lead path (its own statements) and the batch form give equal contexts, over
    random histories: consents of several brands, suppressions and reversals, DNC copies of
    several dates (one imported after ``now``), sends inside and outside the cap window,
    opt-out and ordinary replies, banned dates, send times before and after ``now``."""
    import numpy as np

    rng = np.random.default_rng(17)
    sessions = session_factory(any_engine)
    days = lambda n: dt.timedelta(days=float(n))  # noqa: E731
    phones = ["+15045550142", "+12125550142", "+13055550100", "+18505550123", "+12065550111"]
    with transaction(sessions) as session:
        leads = [
            _lead(session, n, phone=phones[n % len(phones)], state=[None, "LA", "ny", "FL"][n % 4])
            for n in range(12)
        ]
        for lead in leads:
            for k in range(int(rng.integers(0, 4))):
                at = NOW - days(rng.integers(1, 90))
                session.add(
                    Consent(
                        kind=str(rng.choice(["grant", "grant", "revoke"])),
                        lead_id=lead.id,
                        phone_e164=lead.phone_e164,
                        brand=str(rng.choice([BRAND, "Other Co", BRAND])),
                        occurred_at=at if k else NOW + days(1),  # one in the future of now
                        recorded_at=at,
                        method="web",
                    )
                )
            for _ in range(int(rng.integers(0, 3))):
                session.add(
                    Suppression(
                        phone_e164=lead.phone_e164,
                        lead_id=lead.id,
                        action=str(rng.choice(["suppress", "reverse"])),
                        reason="opt_out",
                        source="inbound_sms",
                        created_at=NOW - days(rng.integers(0, 60)),
                    )
                )
            for _ in range(int(rng.integers(0, 8))):
                _event(
                    session,
                    lead,
                    str(rng.choice(["sent", "sent", "reply", "inbound", "click"])),
                    NOW - days(rng.uniform(-2, 45)),
                    marketing=bool(rng.random() < 0.8),
                    text=str(rng.choice(["STOP", "yes please", "what time?", ""])),
                )
            session.flush()
        import_dnc(
            session,
            parsed=parse_dnc_text("+15045550142\n+13055550100\n"),
            registry="national",
            as_of=(NOW - days(10)).date(),
            now=NOW,
            source_name="old.txt",
        )
        import_dnc(
            session,
            parsed=parse_dnc_text("+13055550100\n"),
            registry="national",
            as_of=(NOW - days(2)).date(),
            now=NOW,
            source_name="new.txt",
        )
        import_dnc(
            session,
            parsed=parse_dnc_text("+15045550142\n"),
            registry="LA",
            as_of=(NOW - days(1)).date(),
            now=NOW - days(1),
            source_name="la.txt",
        )
        import_dnc(  # imported after the decision time: not seen
            session,
            parsed=parse_dnc_text("+12125550142\n"),
            registry="NY",
            as_of=NOW.date(),
            now=NOW + days(1),
            source_name="ny.txt",
        )
        add_banned_date(session, state="LA", day=(NOW + days(1)).date(), reason="storm", now=NOW)
        add_banned_date(session, state="FL", day=(NOW - days(60)).date(), reason="old", now=NOW)
        session.flush()
        checked = 0
        for lead in leads:
            for send_at in (NOW, NOW + days(2), NOW - days(3)):
                for policy in ("house", "legal"):
                    single = build_context(
                        session,
                        lead=lead,
                        message=GOOD_MESSAGE,
                        send_at=send_at,
                        now=NOW,
                        settings=SETTINGS,
                        policy=policy,
                    )
                    batch = build_contexts(
                        session,
                        leads=[lead],
                        message=GOOD_MESSAGE,
                        send_at=send_at,
                        now=NOW,
                        settings=SETTINGS,
                        policy=policy,
                    )[lead.id]
                    assert single == batch, (lead.id, send_at, policy)
                    checked += 1
        assert checked == 72
        # The histories did exercise what the single path reads.
        contexts = build_contexts(
            session, leads=leads, message=GOOD_MESSAGE, send_at=NOW, now=NOW, settings=SETTINGS
        )
        assert any(c.suppression for c in contexts.values())
        assert any(c.prior_sends for c in contexts.values())
        assert any(c.last_reply_at for c in contexts.values())
        assert any(not c.first_in_sequence for c in contexts.values())
        assert any(any(d.listed for d in c.dnc) for c in contexts.values())
        assert any(c.consents for c in contexts.values())
