"""The decision path's reads on SQLite's own cursor (optimizer.store.db.core_execute's fast
form) give what SQLAlchemy's execution gives: the same rows, field names, values and types
(aware UTC datetimes, dates, booleans, JSON, NULLs); statements it cannot run that way fall back;
the session's connection is reused within a transaction only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from optimizer.decide.store import _LATEST_EVENT_BY_TYPE, _LEAD_BY_ID, _LEAD_EVENTS_UP_TO
from optimizer.features.single import _LEAD_BY_ID as _LEADS_BY_IDS
from optimizer.ingest.leads import ConsentInput, LeadInput, add_consent, upsert_lead
from optimizer.store import db
from optimizer.store.banned_dates import add_banned_date
from optimizer.store.compliance_repo import (
    _BANNED_SINCE,
    _CONSENTS_OF_PHONE,
    _DNC_IMPORTS_WITH_PHONE,
    _LATEST_SUPPRESSION_OF_PHONE,
    _SENDS_AND_REPLIES_OF_LEAD,
)
from optimizer.store.db import FastRows, core_execute, transaction
from optimizer.store.experiments_repo import _EXPERIMENT_BY_ID
from optimizer.store.models import Decision, Event, Experiment

NOW = dt.datetime(2026, 10, 6, 17, 0, tzinfo=dt.UTC)
PHONE = "+13055550142"


@pytest.fixture
def store(sessions: sessionmaker[Session]) -> dict[str, Any]:
    with transaction(sessions) as session:
        lead = upsert_lead(
            session,
            data=LeadInput(
                external_id="fast-1",
                phone=PHONE,
                vertical="retail",
                source="web_form",
                attributes={"first_name": "Ana", "nested": {"a": [1, 2.5, None]}},
                created_at=NOW - dt.timedelta(days=3),
            ),
            now=NOW,
        ).lead
        add_consent(
            session,
            lead=lead,
            data=ConsentInput(
                granted_at=NOW - dt.timedelta(days=3, microseconds=-1),
                method="web",
                brand="Acme",
                disclosure="I agree.",
            ),
            now=NOW,
        )
        rows = [
            # whole seconds (stored with .000000), microseconds, NULL text/meta/value, JSON meta
            ("sent", NOW - dt.timedelta(days=2), None, None, 0.0, True),
            (
                "reply",
                NOW - dt.timedelta(days=1, microseconds=123457),
                "ok",
                {"k": "v"},
                None,
                False,
            ),
            ("visit", NOW - dt.timedelta(hours=5), None, {"url": "/p", "n": 3}, 12.5, False),
            ("purchase", NOW - dt.timedelta(hours=1), None, None, 99.99, False),
            ("visit", NOW + dt.timedelta(hours=1), None, None, None, False),  # after now
        ]
        for i, (kind, at, text, meta, value, marketing) in enumerate(rows):
            session.execute(
                insert(Event).values(
                    idempotency_key=f"fast-{i}",
                    lead_id=lead.id,
                    type=kind,
                    channel="sms" if kind in ("sent", "reply") else "web",
                    occurred_at=at,
                    recorded_at=at,
                    text=text,
                    meta=meta,
                    value=value,
                    marketing=marketing,
                )
            )
        add_banned_date(session, state="US", day=dt.date(2026, 12, 25), reason="Christmas", now=NOW)
        session.add(
            Experiment(
                name="fast-exp",
                status="running",
                policy="thompson",
                metric="reply",
                created_at=NOW,
            )
        )
        session.flush()
        experiment_id = session.scalar(select(Experiment.id))
        return {"lead": lead.id, "experiment": experiment_id}


def _cases(ids: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    lead = ids["lead"]
    return [
        (_LEAD_BY_ID, {"lead": lead}),
        (_LEAD_BY_ID, {"lead": lead + 1000}),  # no row
        (_LEAD_EVENTS_UP_TO, {"lead": lead, "now": NOW}),
        (_LATEST_EVENT_BY_TYPE, {"lead": lead, "now": NOW}),
        (
            _SENDS_AND_REPLIES_OF_LEAD,
            {"lead": lead, "now": NOW, "earliest": NOW - dt.timedelta(days=30)},
        ),
        (_CONSENTS_OF_PHONE, {"phone": PHONE, "now": NOW}),
        (_LATEST_SUPPRESSION_OF_PHONE, {"phone": PHONE, "now": NOW}),
        (_DNC_IMPORTS_WITH_PHONE, {"phone": PHONE, "now": NOW}),
        (_BANNED_SINCE, {"since": dt.date(2026, 1, 1)}),
        (_EXPERIMENT_BY_ID, {"experiment_id": ids["experiment"]}),
    ]


def _typed(rows: list[Any]) -> list[list[tuple[type, Any]]]:
    return [[(type(v), v) for v in row] for row in rows]


def test_fast_rows_equal_sqlalchemy_rows(
    sessions: sessionmaker[Session], store: dict[str, Any]
) -> None:
    with sessions() as session:
        for statement, params in _cases(store):
            result = core_execute(session, statement, params)
            # An IN over a literal list is an expanding parameter: SQLAlchemy runs that one.
            assert isinstance(result, FastRows) == (statement is not _SENDS_AND_REPLIES_OF_LEAD)
            fast = FastRows(result)
            slow = session.connection().execute(statement, params).all()
            assert _typed(list(fast)) == _typed(slow), statement
            for f, s in zip(fast, slow, strict=True):
                assert f._fields == s._fields
                assert f._mapping == dict(s._mapping)
                for value in f:
                    if isinstance(value, dt.datetime):
                        assert value.tzinfo is dt.UTC
            assert (fast.first() is None) == (not slow)


def test_rows_with_time_types_are_aware_and_exact(
    sessions: sessionmaker[Session], store: dict[str, Any]
) -> None:
    with sessions() as session:
        rows = core_execute(session, _LEAD_EVENTS_UP_TO, {"lead": store["lead"], "now": NOW}).all()
    times = sorted(r.occurred_at for r in rows)
    assert times[0] == NOW - dt.timedelta(days=2)  # stored with .000000
    assert NOW - dt.timedelta(days=1, microseconds=123457) in times
    assert all(t <= NOW for t in times) and len(times) == 4
    meta = {r.type: r.meta for r in rows}
    assert meta["reply"] == {"k": "v"} and meta["sent"] is None


def test_statements_it_cannot_run_fall_back(
    sessions: sessionmaker[Session], store: dict[str, Any]
) -> None:
    with sessions() as session:
        result = core_execute(session, _LEADS_BY_IDS, {"ids": [store["lead"]]})  # expanding IN
        assert not isinstance(result, FastRows)
        assert result.first() is not None
        db.FAST_ENABLED[0] = False
        try:
            assert not isinstance(
                core_execute(session, _LEAD_BY_ID, {"lead": store["lead"]}), FastRows
            )
        finally:
            db.FAST_ENABLED[0] = True


def test_connection_kept_per_transaction_only(
    sessions: sessionmaker[Session], store: dict[str, Any]
) -> None:
    session = sessions()
    try:
        core_execute(session, _LEAD_BY_ID, {"lead": store["lead"]})
        first = db._connection_of(session)
        assert db._connection_of(session) is first
        session.commit()
        core_execute(session, _LEAD_BY_ID, {"lead": store["lead"]})
        assert session.get_transaction() is not None
        assert db._connection_of(session) is session.connection()
        # A write made in this session is seen by a fast read (autoflush, same transaction).
        session.add(
            Event(
                idempotency_key="fast-new",
                lead_id=store["lead"],
                type="click",
                channel="sms",
                occurred_at=NOW - dt.timedelta(minutes=1),
                recorded_at=NOW,
                marketing=False,
            )
        )
        rows = core_execute(session, _LEAD_EVENTS_UP_TO, {"lead": store["lead"], "now": NOW})
        assert "click" in {r.type for r in rows}
        session.rollback()
        rows = core_execute(session, _LEAD_EVENTS_UP_TO, {"lead": store["lead"], "now": NOW})
        assert "click" not in {r.type for r in rows}
    finally:
        session.close()


def _decision_row(lead: int, decision_id: str) -> dict[str, Any]:
    return {
        "id": decision_id,
        "lead_id": lead,
        "created_at": NOW,
        "as_of": NOW - dt.timedelta(microseconds=7),
        "action": "send_at",
        "send_at": NOW + dt.timedelta(hours=3),
        "timezone": "America/Chicago",
        "experiment_id": None,
        "variant_id": 3,
        "text": "Acme: hi Ana. Reply STOP to opt out.",
        "segments": 1,
        "score": 71.5,
        "probability": 0.715,
        "segment": "hot",
        "reasons": [{"code": "slot.model", "message": "é ✓", "source": None}],
        "allowed": True,
        "compliance": {"reasons": [], "n": [1, 2.5, None]},
        "next_allowed_at": None,
        "propensity": 0.25,
        "slot_propensity": None,
        "model_versions": {"lead_score": "lead-score:3"},
        "rules_version": "2026.10",
        "policy": "thompson",
        "first_in_sequence": False,
        "explanation": {},
    }


def test_one_row_insert_stores_what_sqlalchemy_stores(
    sessions: sessionmaker[Session], store: dict[str, Any]
) -> None:
    """The decision log's one-row insert on the driver's cursor writes the very bytes that
    SQLAlchemy's execution writes (times, JSON, booleans, NULLs, non-ASCII text)."""
    from sqlalchemy import text

    from optimizer.decide.store import _INSERT_DECISION
    from optimizer.store.db import core_insert_one

    with transaction(sessions) as session:
        keys = tuple(_decision_row(0, "x"))
        assert db._fast_insert(_INSERT_DECISION, keys, session.connection().dialect) is not None
        core_insert_one(session, _INSERT_DECISION, _decision_row(store["lead"], "fast"))
        db.FAST_ENABLED[0] = False
        try:
            core_insert_one(session, _INSERT_DECISION, _decision_row(store["lead"], "slow"))
        finally:
            db.FAST_ENABLED[0] = True
    with sessions() as session:
        stored = {
            r[0]: tuple(r[1:])
            for r in session.execute(text("SELECT * FROM decisions WHERE id IN ('fast', 'slow')"))
        }
    assert stored["fast"] == stored["slow"]
    assert len(stored["fast"]) == len(_decision_row(0, "x")) - 1


def test_a_refused_one_row_insert_raises_sqlalchemys_error_and_keeps_the_transaction(
    sessions: sessionmaker[Session], store: dict[str, Any]
) -> None:
    from sqlalchemy.exc import IntegrityError

    from optimizer.decide.store import _INSERT_DECISION
    from optimizer.store.db import core_insert_one

    with transaction(sessions) as session:
        core_insert_one(session, _INSERT_DECISION, _decision_row(store["lead"], "once"))
        with pytest.raises(IntegrityError):
            core_insert_one(session, _INSERT_DECISION, _decision_row(store["lead"], "once"))
        core_insert_one(session, _INSERT_DECISION, _decision_row(store["lead"], "twice"))
    with sessions() as session:
        ids = set(session.scalars(select(Decision.id)))
    assert {"once", "twice"} <= ids


def test_read_arms_equals_load_arms(sessions: sessionmaker[Session]) -> None:
    """The decision path's detached arms carry what the ORM's arms carry, in the same order."""
    from sqlalchemy import update

    from optimizer.bandits.experiment_store import create_experiment, load_arms, read_arms
    from optimizer.store.models import ArmStats, Variant

    with transaction(sessions) as session:
        experiment = create_experiment(
            session,
            name="arms",
            metric="reply",
            policy="thompson",
            variants=[("b", "Acme: B. Reply STOP to opt out."), ("a", "Acme: A. STOP to end")],
            control="b",
            params=None,
            attribution_hours=72,
            seed=1,
            now=NOW,
        )
        session.execute(
            update(ArmStats)
            .where(ArmStats.experiment_id == experiment.id)
            .values(sends=7, successes=2, revenue_sum=3.5, updated_at=NOW)
        )
        session.execute(update(Variant).where(Variant.name == "a").values(paused=True))
        experiment_id = experiment.id
    with sessions() as session:
        fast = read_arms(session, experiment_id)
        orm = load_arms(session, experiment_id)
        assert len(fast) == len(orm) == 2
        for (fv, fs), (ov, os_) in zip(fast, orm, strict=True):
            for attr in Variant.__mapper__.column_attrs:
                assert getattr(fv, attr.key) == getattr(ov, attr.key), attr.key
            for attr in ArmStats.__mapper__.column_attrs:
                assert getattr(fs, attr.key) == getattr(os_, attr.key), attr.key
            assert fv not in session and fs not in session
        assert [v.name for v, _ in fast] == ["b", "a"] and fast[1][0].paused is True
        assert fast[0][1].updated_at == NOW
