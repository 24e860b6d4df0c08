"""The seed material's hand-made points model: the baseline every trained model must beat.

Points: recency of the last engagement 25 / 15 / 10 / 5 for <= 30 / 31-60 / 61-90 / > 90 days
(0 when the lead never engaged); a past purchase 30; an email open 20; a link click 25; an SMS
reply 30. The sum is capped at 100. Segments: hot >= 70, warm 40-69, cold below 40.

Field mappings (:func:`points_inputs`):
- store features (``optimizer.features``): recency = ``days_since_engagement``, purchase =
  ``purchase_count > 0``, email open / click / SMS reply = the matching ``days_since_*`` is known.
- bank telemarketing data (columns ``pdays``, ``previous``, ``poutcome``): recency = ``pdays``
  (999 = never contacted -> 0 points); purchase = ``poutcome == "success"`` (the previous
  campaign sold); an earlier contact (``previous > 0``) counts as the email-open item (20: the
  lead has engaged before, the weakest engagement signal). No click / reply fields exist there.
- anything else: no mapping; the baseline is then a constant score (ROC AUC 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HOT = 70.0
WARM = 40.0
SOURCE_STORE = "store"
SOURCE_BANK = "bank"
SOURCE_NONE = "none"


@dataclass(frozen=True)
class PointsInputs:
    recency_days: np.ndarray  # NaN = never engaged
    purchased: np.ndarray
    email_open: np.ndarray
    click: np.ndarray
    sms_reply: np.ndarray
    mapping: str  # which mapping produced these (store | bank | none)


@dataclass(frozen=True)
class PointsItem:
    """One line of a lead's points, used as a reason."""

    name: str
    points: float


def store_inputs(
    recency_days: np.ndarray,
    purchase_count: np.ndarray | None,
    email_open: np.ndarray | None,
    click: np.ndarray | None,
    sms_reply: np.ndarray | None,
) -> PointsInputs:
    """The store mapping from its columns as float arrays (NaN = unknown; None = no such column):
    the one definition that both the feature frame and a model's encoded matrix go through."""
    false = np.zeros(len(recency_days), dtype=bool)

    def known(values: np.ndarray | None) -> np.ndarray:
        return false if values is None else ~np.isnan(values)

    return PointsInputs(
        recency_days=np.asarray(recency_days, dtype=np.float64),
        purchased=false if purchase_count is None else np.nan_to_num(purchase_count) > 0,
        email_open=known(email_open),
        click=known(click),
        sms_reply=known(sms_reply),
        mapping=SOURCE_STORE,
    )


def bank_inputs(pdays: np.ndarray, previous: np.ndarray, success: np.ndarray) -> PointsInputs:
    """The bank mapping: ``pdays`` (999 = never), ``previous`` (NaN = 0), ``success`` (the
    previous campaign's outcome was "success")."""
    pdays = np.where(pdays >= 999, np.nan, pdays)
    false = np.zeros(len(pdays), dtype=bool)
    return PointsInputs(
        recency_days=pdays,
        purchased=np.asarray(success, dtype=bool),
        email_open=np.nan_to_num(previous) > 0,
        click=false,
        sms_reply=false,
        mapping=SOURCE_BANK,
    )


def points_inputs(frame: pd.DataFrame) -> PointsInputs:
    """Map a feature frame onto the points model's fields (see the module docstring)."""
    n = len(frame)
    cols = set(frame.columns)

    def numbers(name: str) -> np.ndarray | None:
        if name not in cols:
            return None
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )

    if "days_since_engagement" in cols:
        recency = numbers("days_since_engagement")
        assert recency is not None
        return store_inputs(
            recency,
            numbers("purchase_count"),
            numbers("days_since_email_open"),
            numbers("days_since_click"),
            numbers("days_since_sms_reply"),
        )
    if {"pdays", "previous", "poutcome"} <= cols:
        pdays, previous = numbers("pdays"), numbers("previous")
        assert pdays is not None and previous is not None
        outcome = frame["poutcome"].astype("str").to_numpy()
        return bank_inputs(pdays, previous, outcome == "success")
    false = np.zeros(n, dtype=bool)
    nan = np.full(n, np.nan)
    return PointsInputs(nan, false, false, false, false, SOURCE_NONE)


def points_score(inputs: PointsInputs) -> np.ndarray:
    """Points 0-100 per row (float64)."""
    days = inputs.recency_days
    with np.errstate(invalid="ignore"):
        recency = np.select(
            [days <= 30, days <= 60, days <= 90, days > 90], [25.0, 15.0, 10.0, 5.0], 0.0
        )
    total = (
        recency
        + 30.0 * inputs.purchased
        + 20.0 * inputs.email_open
        + 25.0 * inputs.click
        + 30.0 * inputs.sms_reply
    )
    return np.minimum(total, 100.0)


def fit_points_logit(
    points: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None
) -> tuple[float, float]:
    """(slope, intercept) of log-odds = slope × points + intercept, fitted on (points, y); a
    constant score gives slope 0 and the (weighted) base rate's log-odds."""
    if np.ptp(points) == 0:
        rate = float(np.clip(np.average(y, weights=weight), 1e-6, 1 - 1e-6))
        return 0.0, float(np.log(rate / (1 - rate)))
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e6, max_iter=1000).fit(
        points.reshape(-1, 1), y, sample_weight=weight
    )
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def points_segment(score: np.ndarray) -> np.ndarray:
    return np.where(score >= HOT, "hot", np.where(score >= WARM, "warm", "cold"))


def points_reasons(inputs: PointsInputs, row: int) -> tuple[PointsItem, ...]:
    """The items that gave row ``row`` its points, largest first."""
    days = inputs.recency_days[row]
    items = []
    if not np.isnan(days):
        recency = 25.0 if days <= 30 else 15.0 if days <= 60 else 10.0 if days <= 90 else 5.0
        items.append(PointsItem("recency", recency))
    for name, flag, pts in (
        ("purchase", inputs.purchased, 30.0),
        ("sms_reply", inputs.sms_reply, 30.0),
        ("click", inputs.click, 25.0),
        ("email_open", inputs.email_open, 20.0),
    ):
        if flag[row]:
            items.append(PointsItem(name, pts))
    return tuple(sorted(items, key=lambda item: -item.points))
