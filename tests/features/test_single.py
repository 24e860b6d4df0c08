"""The single-lead path gives exactly the row the pandas builder and the store loader give."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from optimizer.errors import InvalidInput
from optimizer.features.build import build_features
from optimizer.features.definitions import CHANNELS, EVENT_TYPES, REPLY_ATTRIBUTION_HOURS
from optimizer.features.single import EventRow, LeadRow, feature_row, lead_feature_row
from optimizer.features.store import load_lead_features
from optimizer.store.db import session_factory, transaction
from optimizer.store.models import Lead
from tests.features.factories import START, TIMEZONES, insert_into_store, make_events, make_leads


def assert_identical(fast: dict[str, object], slow: dict[str, object]) -> None:
    """Same keys in the same order, same types, equal values (NaN where NaN)."""
    assert list(fast) == list(slow)
    for name, expected in slow.items():
        got = fast[name]
        assert type(got) is type(expected), (name, got, expected)
        if isinstance(expected, float) and math.isnan(expected):
            assert isinstance(got, float) and math.isnan(got), (name, got)
        else:
            assert got == expected, (name, got, expected)


def _event_rows(events: pd.DataFrame) -> list[EventRow]:
    return [
        EventRow(
            type=str(r.type),
            channel=str(r.channel),
            occurred_at=r.occurred_at.to_pydatetime(),
            value=None if pd.isna(r.value) else float(r.value),
            marketing=bool(r.marketing),
        )
        for r in events.itertuples()
    ]


def _lead_row(lead: pd.Series) -> LeadRow:
    def text(value: object) -> str | None:
        return None if pd.isna(value) else str(value)  # type: ignore[call-overload]

    return LeadRow(
        created_at=lead["created_at"].to_pydatetime(),
        source=text(lead["source"]),
        vertical=text(lead["vertical"]),
        state=text(lead["state"]),
        timezone=lead["timezone"],
        attributes=lead["attributes"],
    )


# Offsets (seconds before as_of) on the edges of the windows and of reply attribution.
_DAY = 86_400
_EDGES = (0, 1, 7 * _DAY, 30 * _DAY, 90 * _DAY, REPLY_ATTRIBUTION_HOURS * 3600)
_extra_event = st.tuples(
    st.sampled_from((*EVENT_TYPES, "sent", "reply", "mystery")),
    st.sampled_from((*CHANNELS, "fax")),
    st.one_of(st.sampled_from(_EDGES), st.integers(-2 * _DAY, 100 * _DAY)),
    st.one_of(
        st.none(), st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1e4, width=32)
    ),
    st.booleans(),
)
_attribute_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    per_lead=st.integers(0, 40),
    lead_index=st.integers(0, 5),
    as_of_seconds=st.integers(-5 * _DAY, 200 * _DAY),
    as_of_micros=st.integers(0, 999_999),
    as_of_zone=st.sampled_from((dt.UTC, dt.timezone(dt.timedelta(hours=-5, minutes=-30)))),
    extra=st.lists(_extra_event, max_size=12),
    attributes=st.one_of(
        st.none(), st.dictionaries(st.text(max_size=3), _attribute_value, max_size=5)
    ),
    timezone=st.sampled_from((*TIMEZONES, "")),
    shuffle=st.booleans(),
)
def test_feature_row_equals_build_features(
    seed: int,
    per_lead: int,
    lead_index: int,
    as_of_seconds: int,
    as_of_micros: int,
    as_of_zone: dt.tzinfo,
    extra: list[tuple[str, str, int, float | None, bool]],
    attributes: dict[str, object] | None,
    timezone: str,
    shuffle: bool,
) -> None:
    leads = make_leads(6, seed=seed)
    leads["attributes"] = leads["attributes"].astype(object)
    leads.at[lead_index, "attributes"] = attributes
    leads.at[lead_index, "timezone"] = timezone
    lead_id = int(leads.at[lead_index, "lead_id"])
    as_of = (START + dt.timedelta(seconds=as_of_seconds, microseconds=as_of_micros)).astimezone(
        as_of_zone
    )
    events = make_events(leads, per_lead=per_lead, seed=seed + 1)
    # A send right before a burst of extra events makes attribution edges likely to be hit.
    added = pd.DataFrame(
        {
            "lead_id": np.full(len(extra), lead_id, dtype=np.int64),
            "type": pd.array([e[0] for e in extra], dtype="str"),
            "channel": pd.array([e[1] for e in extra], dtype="str"),
            "occurred_at": pd.to_datetime(
                [as_of - dt.timedelta(seconds=e[2]) for e in extra], utc=True
            ),
            "value": np.array([np.nan if e[3] is None else e[3] for e in extra], dtype=float),
            "marketing": np.array([e[4] for e in extra], dtype=bool),
        }
    )
    events = pd.concat([events, added], ignore_index=True) if len(added) else events
    if shuffle:
        events = events.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    requests = pd.DataFrame({"lead_id": [lead_id], "as_of": [pd.Timestamp(as_of)]})
    expected = build_features(events, leads, requests).iloc[0].to_dict()
    mine = events.loc[events["lead_id"] == lead_id]
    got = feature_row(_event_rows(mine), _lead_row(leads.loc[lead_index]), as_of)
    assert_identical(got, expected)


def test_reply_attribution_and_windows_on_their_edges() -> None:
    leads = make_leads(1)
    as_of = START + dt.timedelta(days=120)
    sent = as_of - dt.timedelta(days=20)
    window = dt.timedelta(hours=REPLY_ATTRIBUTION_HOURS)
    rows = [
        EventRow("sent", "sms", sent, None, True),
        EventRow("reply", "sms", sent, None, False),  # at the send: attributed
        EventRow("reply", "sms", sent + window, None, False),  # window end: attributed
        EventRow("reply", "sms", sent + window + dt.timedelta(microseconds=1), None, False),
        EventRow("click", "sms", as_of - dt.timedelta(days=7), None, False),  # not < 7 days
        EventRow("click", "sms", as_of, None, False),  # at as_of: ignored
    ]
    row = feature_row(rows, _lead_row(leads.loc[0]), as_of)
    assert row["marketing_replies"] == 2
    assert row["marketing_reply_rate"] == 2.0
    assert row["n_click_7d"] == 0 and row["n_click_30d"] == 1
    assert row["days_since_click"] == 7.0


def test_odd_purchase_values_sum_like_the_builder() -> None:
    leads = make_leads(1)
    as_of = START + dt.timedelta(days=60)
    values = (math.inf, None, 2.5, 1e308, math.nan, -math.inf, 0.1, 0.2)
    rows = [
        EventRow("purchase", "email", as_of - dt.timedelta(days=i + 1), v, False)
        for i, v in enumerate(values)
    ]
    events = pd.DataFrame(
        {
            "lead_id": [1] * len(rows),
            "type": pd.array([r.type for r in rows], dtype="str"),
            "channel": pd.array([r.channel for r in rows], dtype="str"),
            "occurred_at": pd.to_datetime([r.occurred_at for r in rows], utc=True),
            "value": [np.nan if r.value is None else r.value for r in rows],
            "marketing": [False] * len(rows),
        }
    )
    requests = pd.DataFrame({"lead_id": [1], "as_of": [as_of]})
    expected = build_features(events, leads, requests).iloc[0].to_dict()
    assert_identical(feature_row(rows, _lead_row(leads.loc[0]), as_of), expected)


def test_store_row_equals_load_lead_features(any_engine: Engine) -> None:
    sessions = session_factory(any_engine)
    leads = make_leads(12, seed=8)
    events = make_events(leads, per_lead=30, seed=9)
    with transaction(sessions) as session:
        insert_into_store(session, leads, events)
    with transaction(sessions) as session:
        for days in (0.5, 20, 75.25, 400):
            as_of = START + dt.timedelta(days=days)
            for lead_id in range(1, 13):
                expected = load_lead_features(session, lead_ids=[lead_id], as_of=as_of)
                got = lead_feature_row(session, lead_id=lead_id, as_of=as_of)
                assert_identical(got, expected.iloc[0].to_dict())
                # The lead the caller already loaded gives the same row.
                lead = session.get(Lead, lead_id)
                with_lead = lead_feature_row(session, lead_id=lead_id, as_of=as_of, lead=lead)
                assert_identical(with_lead, expected.iloc[0].to_dict())


def test_unknown_lead_and_naive_as_of_are_refused_like_the_loader(
    sessions: sessionmaker[Session],
) -> None:
    leads = make_leads(2)
    with transaction(sessions) as session:
        insert_into_store(session, leads, make_events(leads, per_lead=2))
    with transaction(sessions) as session:
        for call in (load_lead_features, lead_feature_row):
            kwargs: dict[str, object] = {"as_of": START}
            kwargs |= {"lead_ids": [42]} if call is load_lead_features else {"lead_id": 42}
            with pytest.raises(InvalidInput, match=r"lead ids \[42\] are not in the store"):
                call(session, **kwargs)  # type: ignore[operator]
        with pytest.raises(InvalidInput, match="no time zone"):
            lead_feature_row(session, lead_id=1, as_of=dt.datetime(2026, 1, 1))
