from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.errors import InvalidInput
from optimizer.models.send_time import PRIORS_VERSION, SendTimeModel, SendTimePriors, choose_slot
from optimizer.models.send_time_features import point_in_time_counts, slot_times


def test_choose_slot_holds_when_nothing_is_allowed() -> None:
    choice = choose_slot(np.random.default_rng(0), np.array([0.1, 0.2]), np.array([False, False]))
    assert choice.index is None and choice.propensity == 0.0


def test_choose_slot_picks_the_best_allowed_without_exploration() -> None:
    probs = np.array([0.9, 0.1, 0.5, 0.3])
    mask = np.array([False, True, True, True])
    choice = choose_slot(np.random.default_rng(0), probs, mask, exploration=0.0)
    assert (choice.index, choice.propensity, choice.probability) == (2, 1.0, 0.5)


@pytest.mark.parametrize(
    ("probs", "mask", "exploration", "match"),
    [
        (np.zeros(3), np.ones(2, bool), 0.05, r"probs \(3,\) and mask \(2,\) differ"),
        (np.zeros(3), np.ones(3, bool), 1.5, "exploration 1.5 is not a share"),
    ],
)
def test_choose_slot_rejects_bad_input(
    probs: np.ndarray, mask: np.ndarray, exploration: float, match: str
) -> None:
    with pytest.raises(InvalidInput, match=match):
        choose_slot(np.random.default_rng(0), probs, mask, exploration)


@settings(max_examples=100, deadline=None)
@given(
    probs=st.lists(st.floats(0, 1), min_size=1, max_size=72),
    seed=st.integers(0, 10_000),
    exploration=st.floats(0, 1),
    data=st.data(),
)
def test_choice_is_always_allowed_and_its_propensity_is_right(
    probs: list[float], seed: int, exploration: float, data: st.DataObject
) -> None:
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(probs), max_size=len(probs))))
    choice = choose_slot(np.random.default_rng(seed), np.array(probs), mask, exploration)
    if not mask.any():
        assert choice.index is None
        return
    assert choice.index is not None and mask[choice.index]
    k = int(mask.sum())
    best = int(np.nonzero(mask)[0][np.argmax(np.array(probs)[mask])])
    expected = exploration / k + (1 - exploration) * (choice.index == best)
    assert choice.propensity == pytest.approx(expected)
    assert 0.0 < choice.propensity <= 1.0


def test_priors_follow_the_seed_windows() -> None:
    table = SendTimePriors().table(("healthcare", "retail", "b2b"))
    tue, sat = 1, 5
    assert table[0, tue * 24 + 10] > table[0, tue * 24 + 13]  # healthcare 10-12 weekdays
    assert table[0, tue * 24 + 15] > table[0, sat * 24 + 15]
    assert table[1, sat * 24 + 19] > table[1, sat * 24 + 10]  # retail 18-20
    assert table[2, tue * 24 + 9] > table[2, 0 * 24 + 9]  # b2b Tue-Thu 9-11
    assert table[3, 0 * 24 + 3] < table[3, 0 * 24 + 12]  # other: night is low


def test_priors_round_trip_and_reject_garbage() -> None:
    priors = SendTimePriors(window_factor=3.0)
    assert SendTimePriors.from_json(priors.to_json()) == priors
    with pytest.raises(InvalidInput, match="send-time priors"):
        SendTimePriors.from_json({"windows": {"retail": [{"days": [1]}]}})


def test_cold_start_scores_in_local_time() -> None:
    model = SendTimeModel(None)
    assert model.version == PRIORS_VERSION
    features = pd.DataFrame({"vertical": ["healthcare", "healthcare"]})
    now = dt.datetime(2026, 3, 3, 12, 0, tzinfo=dt.UTC)  # a Tuesday
    slots = slot_times(now, 72)
    scores = model.score_slots(features, slots, ["America/New_York", "America/Los_Angeles"])
    assert scores.shape == (2, 72)
    hours = pd.DatetimeIndex(slots).tz_localize("UTC")
    ny = hours.tz_convert("America/New_York")
    la = hours.tz_convert("America/Los_Angeles")
    best_ny, best_la = int(np.argmax(scores[0])), int(np.argmax(scores[1]))
    assert 10 <= ny[best_ny].hour < 12 or 14 <= ny[best_ny].hour < 16
    assert 10 <= la[best_la].hour < 12 or 14 <= la[best_la].hour < 16
    with pytest.raises(InvalidInput, match="1 time zones for 2 leads"):
        model.score_slots(features, slots, ["America/New_York"])


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 3), st.integers(0, 100)), max_size=40
    ),
    queries=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 110)), min_size=1, max_size=10),
)
def test_point_in_time_counts_match_a_naive_reference(
    events: list[tuple[int, int, int]], queries: list[tuple[int, int]]
) -> None:
    e_lead = np.array([e[0] for e in events], dtype=np.int64)
    e_code = np.array([e[1] for e in events], dtype=np.int64)
    e_ns = np.array([e[2] for e in events], dtype=np.int64) * 1_000_000_000
    q_lead = np.array([q[0] for q in queries], dtype=np.int64)
    q_ns = np.array([q[1] for q in queries], dtype=np.int64) * 1_000_000_000
    got = point_in_time_counts(q_lead, q_ns, e_lead, e_code, e_ns, 4)
    for row, (lead, at) in enumerate(queries):
        for code in range(4):
            expected = sum(1 for e in events if e[0] == lead and e[1] == code and e[2] < at)
            assert got[row, code] == expected
