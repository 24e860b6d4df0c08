"""Providers' records applied to a real store, on SQLite and on PostgreSQL: repeats count once,
an opt-out from a number with no lead suppresses the number, carrier errors act, and a status
callback attaches to the decision its confirm linked."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from optimizer.compliance.store_context import build_context
from optimizer.errors import Conflict
from optimizer.ingest.leads import LeadInput, upsert_lead
from optimizer.providers.base import InboundMessage, StatusUpdate
from optimizer.providers.service import apply_records, link_sent_message
from optimizer.providers.twilio import ERROR_ACTIONS
from optimizer.settings import Settings
from optimizer.store.db import session_factory, transaction
from optimizer.store.models import Decision, DecisionConfirmation, ProviderMessage, Suppression

NOW = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)
SETTINGS = Settings(brand_name="Acme Dental")
_ticks = itertools.count()


def clock() -> dt.datetime:
    return NOW + dt.timedelta(seconds=next(_ticks))


def stop(sid: str, sender: str = "+13055550142", text: str = "STOP") -> InboundMessage:
    return InboundMessage("twilio", sid, sender, text, "sms", None)


def update(sid: str, status: str, code: str | None = None) -> StatusUpdate:
    return StatusUpdate("twilio", sid, status, status, code, "+13055550142", None)


def apply(engine: Engine, *records: InboundMessage | StatusUpdate):  # type: ignore[no-untyped-def]
    with transaction(session_factory(engine)) as session:
        return apply_records(
            session, records, error_actions=ERROR_ACTIONS, settings=SETTINGS, clock=clock
        )


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_stop_from_a_number_with_no_lead_counts_once(any_engine: Engine) -> None:
    first = apply(any_engine, stop("SM1"))
    again = apply(any_engine, stop("SM1"))
    assert (first.accepted, first.duplicates) == (1, 0)
    assert (again.accepted, again.duplicates) == (0, 1)
    assert first.answer is not None and first.answer.startswith("Acme Dental: you are unsub")
    assert again.answer == first.answer
    assert count(any_engine, Suppression) == 1
    assert count(any_engine, ProviderMessage) == 1
    # A lead created later with the number: its gate context carries the suppression.
    with transaction(session_factory(any_engine)) as session:
        lead = upsert_lead(
            session,
            data=LeadInput(external_id="later", phone="(305) 555-0142"),
            now=NOW + dt.timedelta(hours=1),
        ).lead
        context = build_context(
            session,
            lead=lead,
            message="hi",
            send_at=NOW + dt.timedelta(hours=2),
            now=NOW + dt.timedelta(hours=2),
            settings=SETTINGS,
        )
        assert context.suppression is not None and context.suppression.reason == "opt_out"


def test_carrier_errors_act_once(any_engine: Engine) -> None:
    first = apply(any_engine, update("SM2", "undelivered", "21610"))
    again = apply(any_engine, update("SM2", "undelivered", "21610"))
    assert first.statuses[0].action == "carrier_stop" and not first.statuses[0].duplicate
    assert again.statuses[0].duplicate
    apply(any_engine, update("SM2", "failed", "21610"))  # another status: stored, no new row
    with Session(any_engine) as session:
        reasons = session.scalars(select(Suppression.reason)).all()
    assert reasons == ["carrier_stop"]
    assert count(any_engine, ProviderMessage) == 2


def _confirmed_decision(session: Session, *, allowed: bool) -> tuple[str, int]:
    lead = upsert_lead(
        session, data=LeadInput(external_id=f"l-{allowed}", phone="(305) 555-0142"), now=NOW
    ).lead
    decision_id = f"d-{allowed}"
    session.add(
        Decision(
            id=decision_id,
            lead_id=lead.id,
            created_at=NOW,
            as_of=NOW,
            action="send_now",
            allowed=allowed,
            reasons=[],
            compliance={},
            model_versions={},
            explanation={},
            text="hi",
        )
    )
    session.flush()
    session.add(
        DecisionConfirmation(decision_id=decision_id, confirmed_at=NOW, allowed=allowed, reasons=[])
    )
    session.flush()
    return decision_id, lead.id


def test_a_linked_message_attaches_its_callbacks(any_engine: Engine) -> None:
    with transaction(session_factory(any_engine)) as session:
        decision_id, lead_id = _confirmed_decision(session, allowed=True)
        refused_id, _ = _confirmed_decision(session, allowed=False)
        assert (
            link_sent_message(
                session, decision_id=decision_id, message_id="SM3", provider=None, now=NOW
            )
            == "SM3"
        )
        # Idempotent for the same id; nothing linked to a refused decision.
        assert (
            link_sent_message(
                session, decision_id=decision_id, message_id="SM3", provider="twilio", now=NOW
            )
            == "SM3"
        )
        assert (
            link_sent_message(
                session, decision_id=refused_id, message_id="SM4", provider=None, now=NOW
            )
            is None
        )
        with pytest.raises(Conflict):
            link_sent_message(
                session, decision_id=decision_id, message_id="SM5", provider=None, now=NOW
            )
    applied = apply(any_engine, update("SM3", "undelivered", "30007"))
    [status] = applied.statuses
    assert (status.decision_id, status.lead_id, status.action) == (
        decision_id,
        lead_id,
        "content_flag",
    )
    assert count(any_engine, Suppression) == 0


def test_a_number_shared_by_leads_is_the_lead_last_texted(any_engine: Engine) -> None:
    from optimizer.store.models import Event

    with transaction(session_factory(any_engine)) as session:
        older = upsert_lead(
            session, data=LeadInput(external_id="a", phone="+13055550142"), now=NOW
        ).lead
        upsert_lead(session, data=LeadInput(external_id="b", phone="+13055550142"), now=NOW)
        session.add(
            Event(
                idempotency_key="sent-a",
                lead_id=older.id,
                type="sent",
                channel="sms",
                occurred_at=NOW,
                recorded_at=NOW,
                marketing=True,
            )
        )
        older_id = older.id
    [received] = apply(any_engine, stop("SM9", text="Yes please call me")).inbound
    assert received.lead_id == older_id and received.intent == "other"
    assert received.answer is None


def test_concurrent_deliveries_of_one_message_count_once_on_postgresql(pg_engine: Engine) -> None:
    """Each delivery takes the number's advisory lock first, so the second sees the first's
    row (READ COMMITTED) and answers the same."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: apply(pg_engine, stop("SM10")), range(4)))
    assert sorted(r.accepted for r in results) == [0, 0, 0, 1]
    assert len({r.answer for r in results}) == 1
    assert count(pg_engine, Suppression) == 1
    assert count(pg_engine, ProviderMessage) == 1
