"""The points model as the lead score's prior: the trees learn corrections on top of it.

With few conversions a booster over ~80 columns finds patterns that do not hold in the next
weeks, and loses to the hand-made points model it replaces (the demo world: below the points
baseline's holdout AUC on 6 of 12 seeds). So the lead score starts from the points model: the
booster is trained with the points' log-odds (a logistic fit of the points on the training rows)
as its initial score, and its trees' margin is added with the weight

    shrink = positives / (positives + strength)

(``strength`` in conversions: 100 by default), so a store with 50 conversions moves a third of
the way from the points model towards what its trees learnt, and the bank data (4,600) all the
way. The points are computed from the model's own encoded columns (:func:`prior_inputs`), so a
saved model needs nothing beyond its matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.models.encoding import FeatureSpec
from optimizer.models.points import (
    SOURCE_BANK,
    SOURCE_STORE,
    PointsInputs,
    bank_inputs,
    fit_points_logit,
    points_score,
    store_inputs,
)

DEFAULT_STRENGTH = 100.0
# The points model's own signals in the store's features, with the direction the points give
# them: LightGBM's monotone constraints when the prior is on (a more recent engagement, open,
# click or reply, or more purchases, never lowers the score).
STORE_MONOTONE: tuple[tuple[str, int], ...] = (
    ("days_since_engagement", -1),
    ("purchase_count", 1),
    ("days_since_email_open", -1),
    ("days_since_click", -1),
    ("days_since_sms_reply", -1),
)
REASON = "points"  # the prior's share of a lead's log-odds, shown beside the trees' reasons


@dataclass(frozen=True)
class PointsPrior:
    """log-odds = ``slope`` × points + ``intercept``; the trees' margin weighs ``shrink``."""

    slope: float
    intercept: float
    shrink: float
    mapping: str  # store | bank: how the points are read from the encoded columns
    strength: float
    positives: float

    def points(self, spec: FeatureSpec, matrix: np.ndarray) -> np.ndarray:
        return points_score(prior_inputs(spec, matrix, self.mapping))

    def margin(self, spec: FeatureSpec, matrix: np.ndarray) -> np.ndarray:
        """The prior's log-odds of each row of ``matrix`` (encoded by ``spec``)."""
        return self.slope * self.points(spec, matrix) + self.intercept

    def to_json(self) -> dict[str, object]:
        return {
            "slope": self.slope,
            "intercept": self.intercept,
            "shrink": self.shrink,
            "mapping": self.mapping,
            "strength": self.strength,
            "positives": self.positives,
        }

    @classmethod
    def from_json(cls, payload: dict[str, object]) -> PointsPrior:
        mapping = str(payload["mapping"])
        if mapping not in (SOURCE_STORE, SOURCE_BANK):
            raise ValueError(f"points prior mapping {mapping!r}: store or bank expected")
        return cls(
            slope=float(payload["slope"]),  # type: ignore[arg-type]
            intercept=float(payload["intercept"]),  # type: ignore[arg-type]
            shrink=float(payload["shrink"]),  # type: ignore[arg-type]
            mapping=mapping,
            strength=float(payload["strength"]),  # type: ignore[arg-type]
            positives=float(payload["positives"]),  # type: ignore[arg-type]
        )


def prior_monotone(
    prior: PointsPrior | None, names: tuple[str, ...], given: list[int] | None
) -> list[int] | None:
    """``given`` (one LightGBM constraint per column, or None) with the store prior's signals
    constrained where ``given`` leaves them free."""
    if prior is None or prior.mapping != SOURCE_STORE:
        return given
    vector = list(given) if given is not None else [0] * len(names)
    position = {name: j for j, name in enumerate(names)}
    for name, sign in STORE_MONOTONE:
        j = position.get(name)
        if j is not None and vector[j] == 0:
            vector[j] = sign
    return vector


def prior_inputs(spec: FeatureSpec, matrix: np.ndarray, mapping: str) -> PointsInputs:
    """The points model's fields read from ``matrix``'s columns (numeric columns are the values
    themselves; the bank's ``poutcome`` is a category code). Equal to :func:`points_inputs` of
    the frame the matrix was encoded from (a test holds them together)."""
    position = {name: j for j, name in enumerate(spec.names)}

    def column(name: str) -> np.ndarray | None:
        j = position.get(name)
        return None if j is None else matrix[:, j]

    if mapping == SOURCE_STORE:
        recency = column("days_since_engagement")
        if recency is None:
            raise ValueError("a store points prior needs days_since_engagement")
        return store_inputs(
            recency,
            column("purchase_count"),
            column("days_since_email_open"),
            column("days_since_click"),
            column("days_since_sms_reply"),
        )
    if mapping == SOURCE_BANK:
        pdays, previous, outcome = column("pdays"), column("previous"), column("poutcome")
        if pdays is None or previous is None or outcome is None:
            raise ValueError("a bank points prior needs pdays, previous and poutcome")
        categories = spec.columns[position["poutcome"]].categories
        success = (
            outcome == float(categories.index("success"))
            if "success" in categories
            else np.zeros(len(outcome), dtype=bool)
        )
        return bank_inputs(pdays, previous, success)
    raise ValueError(f"points prior mapping {mapping!r}: store or bank expected")


def fit_points_prior(
    frame_mapping: str,
    points: np.ndarray,
    y: np.ndarray,
    *,
    strength: float,
    weight: np.ndarray | None = None,
) -> PointsPrior | None:
    """The prior fitted on training rows (their points and labels), or None where the data has
    no points mapping (then the booster starts from the base rate, as without a prior)."""
    if frame_mapping not in (SOURCE_STORE, SOURCE_BANK):
        return None
    if not np.isfinite(strength) or strength < 0:
        raise ValueError(f"points prior strength {strength!r}: a number >= 0 expected")
    slope, intercept = fit_points_logit(points, y, weight)
    positives = float(np.sum(y))
    shrink = positives / (positives + strength) if positives + strength > 0 else 1.0
    return PointsPrior(
        slope=slope,
        intercept=intercept,
        shrink=shrink,
        mapping=frame_mapping,
        strength=float(strength),
        positives=positives,
    )
