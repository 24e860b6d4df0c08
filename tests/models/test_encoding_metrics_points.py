"""Feature encoding, metrics, calibration and the points baseline."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import InvalidInput
from optimizer.models.calibration import Calibrator, choose_calibrator
from optimizer.models.encoding import MAX_CATEGORIES, FeatureSpec, fit_spec
from optimizer.models.metrics import binary_metrics, calibration_curve, top_decile_lift
from optimizer.models.points import points_inputs, points_score, points_segment


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n)),
            "plan": pd.array(
                rng.choice(np.array(["a", "b", "c", None], dtype=object), n), dtype="str"
            ),
            "rare": pd.array(["x"] * (n - 2) + ["y", "z"], dtype="str"),
            "city": pd.array([f"c{i}" for i in rng.integers(0, 5000, n)], dtype="str"),
            "vip": rng.random(n) < 0.3,
            "signup": pd.to_datetime("2026-01-01", utc=True)
            + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
        }
    )


def test_spec_encodes_numbers_categories_dates_and_missing_values() -> None:
    frame = _frame()
    spec = fit_spec(frame, source="csv:test", min_category_rows=5)
    kinds = {c.name: c.kind for c in spec.columns}
    assert kinds == {
        "age": "numeric",
        "income": "numeric",
        "plan": "categorical",
        "rare": "categorical",
        "city": "categorical",
        "vip": "numeric",
        "signup": "datetime",
    }
    by_name = {c.name: c for c in spec.columns}
    assert by_name["rare"].categories == ("x",)  # y, z seen once: below the minimum
    assert len(by_name["city"].categories) <= MAX_CATEGORIES
    matrix = spec.encode(frame)
    rare = matrix[:, spec.names.index("rare")]
    assert set(rare[-2:]) == {1.0}  # the shared "other" code
    plan = matrix[:, spec.names.index("plan")]
    assert np.isnan(plan[frame["plan"].isna().to_numpy()]).all()
    assert np.isnan(matrix[:, 1][frame["income"].isna().to_numpy()]).all()
    unseen = frame.head(1).assign(plan="never-seen")
    assert spec.encode(unseen)[0, spec.names.index("plan")] == len(by_name["plan"].categories)


def test_encode_row_matches_encode_and_json_round_trips() -> None:
    frame = _frame()
    spec = fit_spec(frame, source="csv:test")
    again = FeatureSpec.from_json(spec.to_json())
    assert again == spec
    for i in (0, 5, 17):
        row = {k: (None if pd.isna(v) else v) for k, v in frame.iloc[i].to_dict().items()}
        np.testing.assert_allclose(
            again.encode_row(row), spec.encode(frame.iloc[[i]]), equal_nan=True
        )


def test_missing_columns_are_named() -> None:
    spec = fit_spec(_frame(), source="csv:test")
    with pytest.raises(InvalidInput, match="income"):
        spec.encode(_frame().drop(columns=["income"]))


def test_top_decile_lift_and_one_class_metrics() -> None:
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1] * 10)
    p = np.where(np.arange(100) < 10, 0.9, 0.1)  # the ten top rows hold two positives
    assert top_decile_lift(y, p) == pytest.approx((2 / 10) / 0.2)
    metrics = binary_metrics(np.zeros(5, dtype=int), np.full(5, 0.2))
    assert math.isnan(metrics.roc_auc)
    assert metrics.brier == pytest.approx(0.04)
    curve = calibration_curve(y, p, bins=5)
    assert sum(curve.counts) == 100


def test_calibration_fixes_overconfident_scores() -> None:
    rng = np.random.default_rng(3)
    true_p = rng.beta(1, 6, 8000)
    y = (rng.random(8000) < true_p).astype(int)
    logit = np.log(true_p / (1 - true_p))
    raw = 1 / (1 + np.exp(-(2.5 * logit + 1.0)))  # badly miscalibrated, same ranking
    choice = choose_calibrator(raw[:4000], y[:4000])
    calibrated = choice.calibrator.apply(raw[4000:])
    assert binary_metrics(y[4000:], calibrated).brier < binary_metrics(y[4000:], raw[4000:]).brier
    assert Calibrator.from_json(choice.calibrator.to_json()) == choice.calibrator
    assert choice.calibrator.method in ("isotonic", "sigmoid")


def test_points_follow_the_seed_table() -> None:
    frame = pd.DataFrame(
        {
            "days_since_engagement": [10, 30, 31, 60, 61, 90, 91, np.nan, 5],
            "purchase_count": [0, 0, 0, 0, 0, 0, 0, 0, 2],
            "days_since_email_open": [np.nan] * 8 + [3],
            "days_since_click": [np.nan] * 8 + [3],
            "days_since_sms_reply": [np.nan] * 8 + [3],
        }
    )
    inputs = points_inputs(frame)
    assert inputs.mapping == "store"
    score = points_score(inputs)
    assert score.tolist() == [25, 25, 15, 15, 10, 10, 5, 0, 100]  # 25+30+20+25+30 capped
    assert points_segment(np.array([70.0, 69.0, 40.0, 39.0])).tolist() == [
        "hot",
        "warm",
        "warm",
        "cold",
    ]


def test_points_on_bank_columns() -> None:
    frame = pd.DataFrame(
        {
            "pdays": [999, 3, 45, 999],
            "previous": [0, 1, 2, 1],
            "poutcome": pd.array(["nonexistent", "success", "failure", "failure"], dtype="str"),
        }
    )
    inputs = points_inputs(frame)
    assert inputs.mapping == "bank"
    assert points_score(inputs).tolist() == [0, 25 + 30 + 20, 15 + 20, 20]
    assert points_inputs(pd.DataFrame({"x": [1, 2]})).mapping == "none"
