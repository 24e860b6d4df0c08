"""load_lead_features: the store loader gives what the pure function gives on the same data."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from optimizer.errors import InvalidInput
from optimizer.features.build import build_features
from optimizer.features.store import load_lead_features
from optimizer.store.db import session_factory, transaction
from tests.features.factories import START, insert_into_store, make_events, make_leads


def test_store_features_equal_the_pure_function(any_engine: Engine) -> None:
    sessions = session_factory(any_engine)
    leads = make_leads(30, seed=4)
    events = make_events(leads, per_lead=20, seed=5)
    with transaction(sessions) as session:
        insert_into_store(session, leads, events)
    as_of = START + dt.timedelta(days=90)
    ids = [7, 3, 30, 1]
    with transaction(sessions) as session:
        loaded = load_lead_features(session, lead_ids=ids, as_of=as_of)
    # The store keeps no pandas attributes of its own: compare with the frames written.
    stored_leads = leads.assign(
        attributes=[a or {} for a in leads["attributes"]],
    )
    expected = build_features(
        events, stored_leads, pd.DataFrame({"lead_id": ids, "as_of": [as_of] * len(ids)})
    )
    assert loaded.index.tolist() == ids
    pd.testing.assert_frame_equal(
        loaded.reset_index(drop=True), expected, check_dtype=False, rtol=1e-9
    )


def test_ten_thousand_leads_take_few_queries(sessions: sessionmaker[Session]) -> None:
    leads = make_leads(10_000, seed=6)
    events = make_events(leads.head(500), per_lead=4, seed=7)
    with transaction(sessions) as session:
        insert_into_store(session, leads, events)
    statements: list[str] = []
    with transaction(sessions) as session:
        engine = session.get_bind()
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        sa_event.listen(engine, "before_cursor_execute", listener)
        try:
            features = load_lead_features(
                session, lead_ids=leads["lead_id"].tolist(), as_of=START + dt.timedelta(days=60)
            )
        finally:
            sa_event.remove(engine, "before_cursor_execute", listener)
    assert len(features) == 10_000
    # Per chunk of 5,000: leads, events, recorded lead changes.
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 6


def test_unknown_lead_ids_and_naive_as_of_are_refused(sessions: sessionmaker[Session]) -> None:
    leads = make_leads(3)
    with transaction(sessions) as session:
        insert_into_store(session, leads, make_events(leads, per_lead=2))
    with transaction(sessions) as session:
        with pytest.raises(InvalidInput, match=r"lead ids \[42\]"):
            load_lead_features(session, lead_ids=[1, 42], as_of=START)
        with pytest.raises(InvalidInput, match="no time zone"):
            load_lead_features(session, lead_ids=[1], as_of=dt.datetime(2026, 1, 1))
