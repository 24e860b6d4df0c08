"""Lead fields are point-in-time, like events: a lead changed after a send is read, for that
send's training row, as it was at the send (before, its later source, state and attributes
leaked into every earlier row; ``lead_changes`` was written and never read)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from optimizer.features.build import build_features
from optimizer.features.history import lead_versions, record_as_of
from optimizer.features.single import lead_feature_row
from optimizer.features.store import load_frames, load_lead_features
from optimizer.ingest.leads import LeadInput, upsert_lead
from optimizer.store.db import transaction
from optimizer.store.models import Event
from training.store_data import touch_labels

DAY0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
OLD = {"source": "web_form", "vertical": "retail", "state": "FL", "attr_product": "roof"}
NEW = {"source": "referral", "vertical": "b2b", "state": "GA", "attr_product": "solar"}


def _lead(source: str, vertical: str, state: str, product: str) -> LeadInput:
    return LeadInput(
        external_id="pit-1",
        phone="+13055550142",
        source=source,
        vertical=vertical,
        state=state,
        attributes={"product": product},
        created_at=DAY0,
    )


def _store_lead(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions) as session:
        lead = upsert_lead(session, data=_lead("web_form", "retail", "FL", "roof"), now=DAY0).lead
        session.execute(
            insert(Event),
            [
                {
                    "idempotency_key": f"pit-{kind}",
                    "lead_id": lead.id,
                    "type": kind,
                    "channel": "sms",
                    "occurred_at": DAY0 + dt.timedelta(days=days),
                    "recorded_at": DAY0 + dt.timedelta(days=days),
                    "marketing": kind == "sent",
                }
                for kind, days in (("sent", 1), ("conversion", 2))
            ],
        )
        lead_id = lead.id
    with transaction(sessions) as session:  # day 20: the lead's record is changed
        upsert_lead(
            session,
            data=_lead("referral", "b2b", "GA", "solar"),
            now=DAY0 + dt.timedelta(days=20),
        )
    return lead_id


def _fields(row: pd.Series | dict[str, object]) -> dict[str, object]:
    return {name: row[name] for name in ("source", "vertical", "state", "attr_product")}


def test_training_row_of_an_earlier_send_carries_the_old_values(
    sessions: sessionmaker[Session],
) -> None:
    lead_id = _store_lead(sessions)
    now = DAY0 + dt.timedelta(days=30)
    with transaction(sessions) as session:
        events, leads = load_frames(session, lead_ids=None, before=now)  # the training loader
    touches = touch_labels(events, horizon_days=7, now=now)
    assert touches["label"].tolist() == [1]
    row = build_features(events, leads, touches[["lead_id", "as_of"]]).iloc[0]
    assert _fields(row) == OLD
    with transaction(sessions) as session:
        later = load_lead_features(session, lead_ids=[lead_id], as_of=now).iloc[0]
        single_then = lead_feature_row(session, lead_id=lead_id, as_of=DAY0 + dt.timedelta(days=1))
        single_now = lead_feature_row(session, lead_id=lead_id, as_of=now)
    assert _fields(later) == NEW
    # The one-lead path agrees with the pool path at either time.
    assert _fields(single_then) == OLD and _fields(single_now) == NEW


def test_a_change_counts_from_the_instant_after_it() -> None:
    at = DAY0 + dt.timedelta(days=20)
    changes = [(at, {"source": {"from": "web_form", "to": "referral"}})]
    current = {"source": "referral"}
    assert record_as_of(current, changes, at)["source"] == "web_form"
    assert record_as_of(current, changes, at + dt.timedelta(microseconds=1))["source"] == (
        "referral"
    )
    frame = pd.DataFrame({"lead_id": [1], "source": ["referral"]})
    versions = lead_versions(
        frame, pd.DataFrame({"lead_id": [1], "changed_at": [at], "changes": [changes[0][1]]})
    )
    assert sorted(versions["source"].tolist()) == ["referral", "web_form"]


def test_several_changes_unwind_newest_first() -> None:
    t1, t2 = DAY0 + dt.timedelta(days=5), DAY0 + dt.timedelta(days=9)
    changes = [
        (t1, {"state": {"from": "FL", "to": "GA"}}),
        (t2, {"state": {"from": "GA", "to": "TX"}, "vertical": {"from": "retail", "to": "b2b"}}),
    ]
    current = {"state": "TX", "vertical": "b2b"}
    assert record_as_of(current, changes, DAY0) == {"state": "FL", "vertical": "retail"}
    assert record_as_of(current, changes, t1 + dt.timedelta(hours=1)) == {
        "state": "GA",
        "vertical": "retail",
    }
    assert record_as_of(current, changes, t2 + dt.timedelta(hours=1)) == current
