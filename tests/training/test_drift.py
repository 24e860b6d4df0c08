"""Drift options: past-only change features, recency weights, monotone rules, bad input."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.api import types as ptypes

from optimizer.errors import InvalidInput
from optimizer.models.calibration import Calibrator, level_shift
from optimizer.models.drift import (
    MIN_WEIGHT,
    DriftOptions,
    monotone_vector,
    parse_monotone,
    past_changes,
    recency_weights,
    with_changes,
)
from tests.training.csvdata import make_table
from training.datasets import TrainingData
from training.evaluate import evaluate_walk_forward, with_drift_features


def _moved(values: list[float], i: int) -> bool:
    """Row i is present and differs from the last present value before it (or has none)."""
    if math.isnan(values[i]):
        return False
    seen = [v for v in values[:i] if not math.isnan(v)]
    return not seen or seen[-1] != values[i]


def reference_changes(values: list[float], window: int) -> list[tuple[float, ...]]:
    """(step, vs_mean, run, moves) of each row by a plain loop over the rows before it."""
    out = []
    for i, value in enumerate(values):
        moves = float(sum(_moved(values, j) for j in range(max(0, i - window + 1), i + 1)))
        before = values[:i]
        prior = [v for v in before[-window:] if not math.isnan(v)]
        vs_mean = value - sum(prior) / len(prior) if prior else math.nan
        if math.isnan(value):
            out.append((math.nan, vs_mean, math.nan, moves))
            continue
        seen = [v for v in before if not math.isnan(v)]
        run = 0
        while run < len(seen) and seen[len(seen) - 1 - run] == value:
            run += 1
        rest = seen[: len(seen) - run]
        step = value - rest[-1] if rest else math.nan
        out.append((step, vs_mean, float(run), moves))
    return out


_values = st.lists(
    st.one_of(st.sampled_from([1.0, 1.5, 2.0, -3.0]), st.just(math.nan)), min_size=1, max_size=40
)


@settings(max_examples=150, deadline=None)
@given(values=_values, window=st.integers(1, 6))
def test_changes_agree_with_the_per_row_reference(values: list[float], window: int) -> None:
    got = past_changes(pd.DataFrame({"x": values}), ["x"], window=window)
    expected = np.array(reference_changes(values, window), dtype=np.float64).reshape(-1, 4)
    actual = got[["x.step", "x.vs_mean", "x.run", "x.moves"]].to_numpy()
    np.testing.assert_allclose(actual, expected, equal_nan=True)
    assert all(ptypes.is_float_dtype(got[c]) for c in got.columns)


@settings(max_examples=100, deadline=None)
@given(
    values=_values,
    window=st.integers(1, 6),
    data=st.data(),
)
def test_a_later_row_never_changes_an_earlier_rows_features(
    values: list[float], window: int, data: st.DataObject
) -> None:
    frame = pd.DataFrame({"x": values, "y": np.arange(len(values), dtype=np.float64)})
    cut = data.draw(st.integers(0, len(values) - 1))
    changed = frame.copy()
    changed.loc[cut:, "x"] = data.draw(st.sampled_from([99.0, -7.0, math.nan]))
    changed.loc[cut:, "y"] = 1e9
    before = past_changes(frame, ["x", "y"], window=window).iloc[:cut]
    after = past_changes(changed, ["x", "y"], window=window).iloc[:cut]
    pd.testing.assert_frame_equal(before, after)


def test_changes_keep_the_frames_index_and_can_replace_the_levels() -> None:
    frame = pd.DataFrame(
        {"rate": [4.8, 4.8, 4.9, 1.3], "job": list("abca")}, index=[10, 11, 12, 13]
    )
    out = with_changes(frame, DriftOptions(changes=("rate",), keep_levels=False))
    assert list(out.index) == [10, 11, 12, 13]
    assert list(out.columns) == ["job", "rate.step", "rate.vs_mean", "rate.run", "rate.moves"]
    np.testing.assert_allclose(out["rate.step"], [np.nan, np.nan, 0.1, -3.6], equal_nan=True)
    np.testing.assert_allclose(out["rate.run"], [0, 1, 0, 0])


@pytest.mark.parametrize(
    ("frame", "column", "match"),
    [
        (pd.DataFrame({"a": [1.0]}), "b", "'b' is not a feature"),
        (pd.DataFrame({"a": ["x"]}), "a", "numeric column expected"),
        (pd.DataFrame({"a": [True, False]}), "a", "numeric column expected"),
    ],
)
def test_changes_of_a_bad_column_are_refused(frame: pd.DataFrame, column: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        past_changes(frame, [column], window=3)


def test_a_column_named_like_a_change_is_refused() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b.step": [0.0, 1.0]})
    with pytest.raises(InvalidInput, match="end like change features"):
        with_changes(frame, DriftOptions(changes=("a",)))


@pytest.mark.parametrize("rows", [0, 1, 2, 7, 50_000])
@pytest.mark.parametrize("half_life", [0.01, 1.0, 3.5, 1e3, 1e12])
def test_recency_weights_are_positive_and_grow_with_recency(rows: int, half_life: float) -> None:
    weights = recency_weights(rows, half_life)
    assert weights.shape == (rows,)
    assert np.all(weights >= MIN_WEIGHT) and np.all(np.isfinite(weights))
    assert np.all(np.diff(weights) >= 0)
    if rows:
        assert weights[-1] == 1.0
    if rows > 1 and half_life < 1e6:
        assert weights[0] < weights[-1]  # strictly older rows weigh less


def test_the_half_life_halves_the_weight() -> None:
    weights = recency_weights(201, 100.0)
    assert weights[-101] == pytest.approx(0.5)
    assert weights[0] == pytest.approx(0.25)
    assert np.array_equal(recency_weights(5, None), np.ones(5))


@pytest.mark.parametrize("half_life", [0.0, -5.0, math.nan, math.inf, -math.inf])
def test_a_bad_half_life_is_refused(half_life: float) -> None:
    with pytest.raises(InvalidInput, match="half-life"):
        DriftOptions(half_life=half_life)
    with pytest.raises(InvalidInput, match="half-life"):
        recency_weights(10, half_life)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"change_window": 0}, "--change-window 0"),
        ({"changes": ("a", "a")}, "named twice"),
        ({"keep_levels": False}, "--no-levels needs --changes"),
        ({"monotone": (("a", 2),)}, r"\+1 or -1"),
    ],
)
def test_bad_drift_options_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        DriftOptions(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("item", ["a", "a=2", "=1", "a=+", "a=-1.5"])
def test_a_bad_monotone_item_is_refused(item: str) -> None:
    with pytest.raises(InvalidInput, match="--monotone"):
        parse_monotone([item])


def test_monotone_constraints_follow_the_columns() -> None:
    options = DriftOptions(monotone=parse_monotone(["b=-1", "a=+1"]))
    assert monotone_vector(["a", "b", "c"], [2], options) == [1, -1, 0]
    assert monotone_vector(["a"], [], DriftOptions()) is None
    with pytest.raises(InvalidInput, match="'z' is not a feature"):
        monotone_vector(["a"], [], DriftOptions(monotone=(("z", 1),)))
    with pytest.raises(InvalidInput, match="categorical"):
        monotone_vector(["a", "b"], [1], DriftOptions(monotone=(("b", 1),)))


def _data(time_ordered: bool, n: int = 900) -> TrainingData:
    table = make_table(n, seed=3)
    y = (table.pop("converted") == "yes").to_numpy().astype(np.int64)
    frame = table[["plan", "visits", "income"]]
    return TrainingData(
        frame=frame,
        y=y,
        name="synthetic",
        source="memory",
        digest="0" * 64,
        time_ordered=time_ordered,
        feature_source="csv:test",
        target="converted",
        positive="yes",
    )


def test_drift_options_need_time_ordered_rows() -> None:
    with pytest.raises(InvalidInput, match="--time-order"):
        with_drift_features(_data(False), DriftOptions(half_life=100.0))
    assert with_drift_features(_data(False), DriftOptions()).frame.shape[1] == 3


def test_walk_forward_with_every_option_reports_each_step() -> None:
    from optimizer.models.lead_score import TrainConfig

    drift = DriftOptions(
        half_life=200.0,
        changes=("income",),
        change_window=50,
        monotone=(("visits", 1),),
        recent_validation=True,
    )
    data = with_drift_features(_data(True), drift)
    assert "income.vs_mean" in data.frame.columns and data.feature_source != "csv:test"
    seen: list[tuple[int, int]] = []
    comparison = evaluate_walk_forward(
        data,
        config=TrainConfig(seed=0, max_rounds=60),
        window=500,
        step=200,
        drift=drift,
        on_step=lambda i, pooled: seen.append((i, len(pooled.y))),
    )
    assert seen == [(0, 200), (1, 400)]
    assert comparison.model.roc_auc > 0.6
    assert np.isfinite(comparison.logistic.roc_auc)


@pytest.mark.parametrize("rate", [0.0, 0.03, 0.5, 0.97, 1.0])
def test_the_level_shift_moves_the_mean_to_the_rate(rate: float) -> None:
    p = np.random.default_rng(1).uniform(0.01, 0.4, 300)
    shift = level_shift(p, rate, rows=300)
    moved = Calibrator("identity", shift=shift).apply(p)
    assert math.isfinite(shift)
    assert np.mean(moved) == pytest.approx(np.clip(rate, 0.5 / 300, 1 - 0.5 / 300), abs=1e-6)
    assert np.array_equal(np.argsort(moved), np.argsort(p))  # the order is kept


def test_the_shift_is_saved_with_the_calibrator_and_old_files_read_as_none() -> None:
    cal = Calibrator("sigmoid", a=0.9, b=-0.2, shift=0.7)
    assert Calibrator.from_json(cal.to_json()) == cal
    old = {k: v for k, v in cal.to_json().items() if k != "shift"}
    assert Calibrator.from_json(old).shift == 0.0


def test_a_bad_recent_level_is_refused() -> None:
    with pytest.raises(InvalidInput, match="--recent-level 0"):
        DriftOptions(recent_level=0)
    with pytest.raises(InvalidInput, match="--time-order"):
        with_drift_features(_data(False), DriftOptions(recent_level=100))


def _walk(data: TrainingData, drift: DriftOptions) -> list[np.ndarray]:
    from optimizer.models.lead_score import TrainConfig

    steps: list[np.ndarray] = []
    evaluate_walk_forward(
        data,
        config=TrainConfig(seed=0, max_rounds=40),
        window=500,
        step=200,
        drift=drift,
        on_step=lambda i, pooled: steps.append(pooled.model[-200:].copy()),
        baselines=False,
    )
    return steps


def test_the_recent_level_reads_the_windows_labels_never_the_steps() -> None:
    drift = DriftOptions(recent_level=150)
    data = _data(True)
    base = _walk(data, drift)
    assert len(base) == 2  # steps scoring rows [500, 700) and [700, 900)
    # The labels of the last step's own rows change: no prediction moves.
    flipped = data.y.copy()
    flipped[700:] = 1 - flipped[700:]
    after = _walk(replace(data, y=flipped), drift)
    for got, expected in zip(after, base, strict=True):
        np.testing.assert_array_equal(got, expected)
    # The newest labels of the second window change: its level moves, the first step's does not.
    recent = data.y.copy()
    recent[550:700] = 1
    moved = _walk(replace(data, y=recent), drift)
    np.testing.assert_array_equal(moved[0], base[0])
    assert np.mean(moved[1]) > np.mean(base[1]) + 0.05
