"""The single-lead send-time path equals ``load_lead_features`` / ``lead_frame`` exactly."""

from __future__ import annotations

import datetime as dt
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from optimizer.errors import InvalidInput
from optimizer.ingest.events import EventInput, ingest_events
from optimizer.ingest.leads import LeadInput, upsert_lead
from optimizer.models.send_time import SendTimeModel
from optimizer.models.send_time_features import (
    SLOT_FEATURES,
    LeadRows,
    lead_frame,
    slot_times,
)
from optimizer.models.send_time_single import (
    EventTuple,
    rows_frame,
    send_time_inputs,
    send_time_row,
    single_lead_rows,
)
from optimizer.models.send_time_store import load_lead_features
from optimizer.settings import Settings
from optimizer.store.db import transaction
from optimizer.store.models import Event, Lead
from optimizer.vocabulary import EVENT_TYPES

NOW = dt.datetime(2026, 3, 8, 7, 30, 15, 250_000, tzinfo=dt.UTC)  # the US DST switch day
ZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "America/Phoenix",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
)
METAS: tuple[dict[str, Any] | None, ...] = (
    None,
    {},
    {"intent": "opt_out"},
    {"intent": "help"},
    {"intent": None},
    {"rule": "x"},
)


def _models() -> list[SendTimeModel]:
    """The priors, and a small booster with personas (trained on noise: any fixed trees do)."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, len(SLOT_FEATURES))).astype(np.float32)
    y = (x[:, 6] + x[:, 0] * 0.1 + rng.normal(size=400) > 0).astype(int)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 7, "verbose": -1, "min_data_in_leaf": 5},
        lgb.Dataset(x, y),
        num_boost_round=10,
    )
    components = rng.random((3, 48))
    components /= components.sum(axis=1, keepdims=True)
    return [
        SendTimeModel(None),
        SendTimeModel(booster, sources=("web", "ads"), version="t", components=components),
    ]


MODELS = _models()


def _reference(
    lead_id: int,
    vertical: str | None,
    source: str | None,
    zone: str,
    events: list[EventTuple],
    as_of: dt.datetime,
) -> pd.DataFrame:
    """``lead_frame`` over frames laid out as ``store_frames`` lays them out."""
    leads = pd.DataFrame(
        {"vertical": [vertical], "source": [source], "timezone": [zone]},
        index=pd.Index([lead_id], name="lead_id"),
    )
    frame = pd.DataFrame(
        {
            "lead_id": np.full(len(events), lead_id, dtype=np.int64),
            "type": pd.array([e[0] for e in events], dtype="str"),
            "occurred_at": pd.to_datetime([e[1] for e in events], utc=True),
            "marketing": np.array([bool(e[2]) for e in events], dtype=bool),
            "intent": pd.array([(e[3] or {}).get("intent") or "" for e in events], dtype="str"),
        }
    )
    at = np.array([pd.Timestamp(as_of).tz_convert("UTC").tz_localize(None).to_datetime64()])
    return lead_frame(leads, frame, rows_lead=np.array([lead_id]), rows_at=at)


def _assert_same_scores(frame: pd.DataFrame, rows: LeadRows, zone: str, now: dt.datetime) -> None:
    slots = slot_times(now, 72)
    for model in MODELS:
        expected = model.score_slots(frame, slots, zone)
        assert np.array_equal(model.score_slots(rows, slots, zone), expected)


def _moment(as_of: dt.datetime) -> st.SearchStrategy[dt.datetime]:
    """Anywhere (before 1970 too), or within a few seconds of the as-of (the cut is by second)."""
    anywhere = st.datetimes(
        min_value=dt.datetime(1969, 12, 31, 20), max_value=dt.datetime(2040, 1, 1)
    ).map(lambda d: d.replace(tzinfo=dt.UTC))
    near = st.integers(-3_000_000, 2_000_000).map(lambda us: as_of + dt.timedelta(microseconds=us))
    return st.one_of(anywhere, near)


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_single_lead_rows_equal_lead_frame_on_random_histories(data: st.DataObject) -> None:
    as_of = data.draw(
        st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2030, 1, 1)).map(
            lambda d: d.replace(tzinfo=dt.UTC)
        )
    )
    event = st.tuples(
        st.sampled_from(EVENT_TYPES), _moment(as_of), st.booleans(), st.sampled_from(METAS)
    )
    events = data.draw(st.lists(event, max_size=40))
    zone = data.draw(st.sampled_from(ZONES))
    vertical = data.draw(st.sampled_from([None, "retail", "b2b", "", "other"]))
    source = data.draw(st.sampled_from([None, "web", "ads", "partner"]))
    rows = single_lead_rows(vertical=vertical, source=source, zone=zone, events=events, as_of=as_of)
    reference = _reference(7, vertical, source, zone, events, as_of)
    pd.testing.assert_frame_equal(rows_frame(rows), reference, check_exact=True)
    _assert_same_scores(reference, rows, zone, as_of)


def test_single_lead_rows_reject_a_naive_as_of() -> None:
    with pytest.raises(InvalidInput, match="as_of .* has no time zone"):
        single_lead_rows(
            vertical=None, source=None, zone="UTC", events=[], as_of=dt.datetime(2026, 1, 1)
        )


def _fill(sessions: sessionmaker[Session], settings: Settings) -> list[int]:
    """Leads with and without their own zone and vertical, and mixed histories around NOW."""
    leads = [
        LeadInput("a", "+12125550142", timezone="America/Chicago", vertical="retail", source="web"),
        LeadInput("b", "+12145550142", vertical="b2b"),
        LeadInput("c", "+13055550142", source="ads"),
        LeadInput("d", "+15045550142", timezone="Asia/Kolkata"),  # no events at all
    ]
    offsets = [-90 * 86400, -40 * 86400 + 3600 * 5, -86400 * 3 - 1234, -7200, -0.5, -0.2, 0, 30]
    texts = {"inbound": ["STOP", "yes please", "HELP"], "reply": ["ok", "stop"]}
    with transaction(sessions) as session:
        ids = [
            upsert_lead(session, data=lead, now=NOW - dt.timedelta(days=100)).lead.id
            for lead in leads
        ]
        inputs: list[EventInput] = []
        for n, lead_id in enumerate(ids[:3]):
            for k, kind in enumerate(EVENT_TYPES):
                for j, offset in enumerate(offsets[(n + k) % 3 :]):
                    words = texts.get(kind)
                    inputs.append(
                        EventInput(
                            idempotency_key=f"{lead_id}-{kind}-{j}",
                            lead_id=lead_id,
                            type=kind,
                            channel="sms",
                            occurred_at=NOW + dt.timedelta(seconds=offset - 3600 * (j % 5) * n),
                            text=words[j % len(words)] if words else None,
                            marketing=None if kind != "sent" else bool(j % 2),
                        )
                    )
        ingest_events(session, events=inputs, settings=settings, now=NOW)
    return ids


def test_send_time_row_equals_load_lead_features_on_a_store(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    ids = _fill(sessions, settings)
    with transaction(sessions) as session:
        for lead_id in ids:
            for as_of in (NOW, NOW - dt.timedelta(days=3), NOW + dt.timedelta(hours=1)):
                expected, zones = load_lead_features(session, lead_ids=[lead_id], as_of=as_of)
                frame, zone = send_time_row(session, lead_id=lead_id, as_of=as_of)
                rows, same_zone = send_time_inputs(session, lead_id=lead_id, as_of=as_of)
                pd.testing.assert_frame_equal(frame, expected, check_exact=True)
                assert zone == same_zone == zones[0]
                _assert_same_scores(expected, rows, zone, as_of)
                # The lead the caller already loaded gives the same inputs.
                lead = session.get(Lead, lead_id)
                given, given_zone = send_time_inputs(
                    session, lead_id=lead_id, as_of=as_of, lead=lead
                )
                assert given_zone == zone
                _assert_same_scores(expected, given, zone, as_of)
        totals = load_lead_features(session, lead_ids=ids[:3], as_of=NOW)[0]
        intents = {(meta or {}).get("intent") for meta in session.scalars(select(Event.meta))}
    # The store history is not trivial: opt-outs, non-marketing texts and the as-of cut matter.
    assert {"opt_out", "help"} <= intents
    assert totals["n_sent"].min() > 0 and totals["n_reply"].max() > 0
    assert totals.filter(like="_h").to_numpy().sum() > 20


def test_send_time_row_rejects_an_unknown_lead(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session, pytest.raises(InvalidInput, match="lead id 999 does"):
        send_time_row(session, lead_id=999, as_of=NOW)
