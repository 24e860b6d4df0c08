"""The fast feature builder against the slow reference, and point-in-time properties."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.errors import InvalidInput
from optimizer.features.build import build_features
from optimizer.features.definitions import CHANNELS, EVENT_TYPES, base_columns
from optimizer.features.reference import reference_features
from tests.features.factories import START, make_events, make_leads


def _requests(n: int, lead_ids: np.ndarray, *, seed: int, days: float = 200.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, int(days * 86400), n)
    return pd.DataFrame(
        {
            "lead_id": rng.choice(lead_ids, n),
            "as_of": pd.to_datetime(
                [START + dt.timedelta(seconds=int(s)) for s in seconds], utc=True
            ),
        }
    )


def assert_same(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    assert list(fast.columns) == list(slow.columns)
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False, rtol=1e-9)


def test_fast_features_equal_the_reference() -> None:
    leads = make_leads(25, seed=1)
    events = make_events(leads, per_lead=25, seed=2)
    # Lead 999 has no record and no events: every feature is missing or zero, not an error.
    ids = np.append(leads["lead_id"].to_numpy(), 999)
    requests = _requests(80, ids, seed=3)
    fast = build_features(events, leads, requests)
    assert len(fast) == 80
    assert_same(fast, reference_features(events, leads, requests))


def test_columns_are_the_documented_ones_then_sorted_attributes() -> None:
    leads = make_leads(10)
    features = build_features(
        make_events(leads, per_lead=5), leads, _requests(5, leads["lead_id"].to_numpy(), seed=0)
    )
    base = list(base_columns())
    assert list(features.columns[: len(base)]) == base
    assert list(features.columns[len(base) :]) == ["attr_budget", "attr_service", "attr_vip"]
    assert pd.api.types.is_string_dtype(features["source"])
    assert pd.api.types.is_string_dtype(features["attr_service"])


def test_an_event_at_exactly_as_of_does_not_count() -> None:
    leads = make_leads(1)
    as_of = START + dt.timedelta(days=40)
    events = pd.DataFrame(
        {
            "lead_id": [1, 1],
            "type": pd.array(["click", "click"], dtype="str"),
            "channel": pd.array(["sms", "sms"], dtype="str"),
            "occurred_at": pd.to_datetime([as_of - dt.timedelta(days=2), as_of], utc=True),
            "value": [np.nan, np.nan],
            "marketing": [False, False],
        }
    )
    row = build_features(events, leads, pd.DataFrame({"lead_id": [1], "as_of": [as_of]})).iloc[0]
    assert row["n_click_7d"] == 1
    assert row["days_since_click"] == pytest.approx(2.0)


def test_marketing_replies_need_a_send_within_72_hours_before() -> None:
    leads = make_leads(1)
    t0 = START + dt.timedelta(days=40)
    rows = [
        ("sent", t0, True),
        ("reply", t0 + dt.timedelta(hours=71), False),  # counts
        ("reply", t0 + dt.timedelta(hours=80), False),  # too late
        ("sent", t0 + dt.timedelta(days=5), False),  # not marketing
        ("reply", t0 + dt.timedelta(days=5, hours=1), False),  # no marketing send before
    ]
    events = pd.DataFrame(
        {
            "lead_id": [1] * len(rows),
            "type": pd.array([r[0] for r in rows], dtype="str"),
            "channel": pd.array(["sms"] * len(rows), dtype="str"),
            "occurred_at": pd.to_datetime([r[1] for r in rows], utc=True),
            "value": [np.nan] * len(rows),
            "marketing": [r[2] for r in rows],
        }
    )
    requests = pd.DataFrame({"lead_id": [1], "as_of": [t0 + dt.timedelta(days=10)]})
    row = build_features(events, leads, requests).iloc[0]
    assert row["marketing_sent"] == 1
    assert row["marketing_replies"] == 1
    assert row["marketing_reply_rate"] == pytest.approx(1.0)
    assert_same(
        build_features(events, leads, requests), reference_features(events, leads, requests)
    )


def test_local_time_uses_the_leads_time_zone() -> None:
    leads = make_leads(5)  # time zones: New York, Chicago, Los Angeles, none, invalid
    as_of = pd.Timestamp("2026-03-07T17:30:00Z")  # a Saturday, 12:30 in New York
    requests = pd.DataFrame({"lead_id": [1, 2, 3, 4, 5], "as_of": [as_of] * 5})
    features = build_features(make_events(leads, per_lead=1), leads, requests)
    assert features["local_hour"].tolist()[:3] == [12.0, 11.0, 9.0]
    assert features["is_weekend"].tolist()[:3] == [1.0, 1.0, 1.0]
    assert features["local_hour"].iloc[3:].isna().all()


@pytest.mark.parametrize(
    ("frame", "column"),
    [("events", "occurred_at"), ("leads", "timezone"), ("requests", "as_of")],
)
def test_missing_input_columns_are_named(frame: str, column: str) -> None:
    leads = make_leads(2)
    frames = {
        "events": make_events(leads, per_lead=2),
        "leads": leads,
        "requests": pd.DataFrame({"lead_id": [1], "as_of": [START]}),
    }
    frames[frame] = frames[frame].drop(columns=[column])
    with pytest.raises(InvalidInput, match=column):
        build_features(frames["events"], frames["leads"], frames["requests"])


_LEADS = make_leads(3, seed=7)
_event = st.tuples(
    st.integers(1, 3),
    st.sampled_from(EVENT_TYPES),
    st.sampled_from(CHANNELS),
    st.integers(-200 * 24, 0),  # hours relative to the lead's as_of (<= 0: the past)
    st.booleans(),
    st.one_of(st.none(), st.floats(0, 1000, allow_nan=False)),
)


def _frame(rows: list[tuple], as_of: dict[int, pd.Timestamp], *, future: bool) -> pd.DataFrame:
    stamps = [as_of[r[0]] + pd.Timedelta(hours=-r[3] if future else r[3]) for r in rows]
    return pd.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "type": pd.array([r[1] for r in rows], dtype="str"),
            "channel": pd.array([r[2] for r in rows], dtype="str"),
            "occurred_at": pd.to_datetime(stamps, utc=True),
            "value": [np.nan if r[5] is None else r[5] for r in rows],
            "marketing": [r[4] for r in rows],
        }
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    past=st.lists(_event, max_size=25),
    future=st.lists(_event, min_size=1, max_size=25),
    shuffle_seed=st.integers(0, 2**32 - 1),
)
def test_future_events_change_nothing(
    past: list[tuple], future: list[tuple], shuffle_seed: int
) -> None:
    as_of = {i: pd.Timestamp("2026-06-01T12:00:00Z") + pd.Timedelta(days=i) for i in (1, 2, 3)}
    requests = pd.DataFrame(
        {"lead_id": [1, 2, 3, 1], "as_of": [as_of[1], as_of[2], as_of[3], as_of[1]]}
    )
    past_frame = _frame(past, as_of, future=False)
    # Events at or after each lead's as_of (hour offset >= 0), shuffled in among the past ones.
    future_frame = _frame(future, as_of, future=True)
    mixed = pd.concat([past_frame, future_frame], ignore_index=True)
    mixed = mixed.sample(frac=1.0, random_state=shuffle_seed % (2**32)).reset_index(drop=True)
    # Strictly-past events only (an event exactly at as_of is "now", not the past).
    before = past_frame.loc[past_frame["occurred_at"] < past_frame["lead_id"].map(as_of)]
    expected = build_features(before, _LEADS, requests)
    assert_same(build_features(mixed, _LEADS, requests), expected)
    assert_same(build_features(past_frame, _LEADS, requests), expected)
