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


def points_inputs(frame: pd.DataFrame) -> PointsInputs:
    """Map a feature frame onto the points model's fields (see the module docstring)."""
    n = len(frame)
    false = np.zeros(n, dtype=bool)
    cols = set(frame.columns)

    def known(name: str) -> np.ndarray:
        if name not in cols:
            return false
        return frame[name].notna().to_numpy()

    if "days_since_engagement" in cols:
        purchase_count = pd.to_numeric(frame.get("purchase_count"), errors="coerce")
        return PointsInputs(
            recency_days=pd.to_numeric(frame["days_since_engagement"], errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            ),
            purchased=(purchase_count.fillna(0) > 0).to_numpy()
            if purchase_count is not None
            else false,
            email_open=known("days_since_email_open"),
            click=known("days_since_click"),
            sms_reply=known("days_since_sms_reply"),
            mapping=SOURCE_STORE,
        )
    if {"pdays", "previous", "poutcome"} <= cols:
        pdays = pd.to_numeric(frame["pdays"], errors="coerce").to_numpy(dtype=np.float64)
        pdays = np.where(pdays >= 999, np.nan, pdays)
        previous = pd.to_numeric(frame["previous"], errors="coerce").fillna(0).to_numpy()
        outcome = frame["poutcome"].astype("str").to_numpy()
        return PointsInputs(
            recency_days=pdays,
            purchased=outcome == "success",
            email_open=previous > 0,
            click=false,
            sms_reply=false,
            mapping=SOURCE_BANK,
        )
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
