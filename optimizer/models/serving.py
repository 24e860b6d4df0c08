"""Serving wrapper: load ``models:/lead-score@champion`` once, score one lead or a pool.

Scoring goes straight to the LightGBM booster and applies the stored calibrator (no pyfunc
layer), so a pool of 100,000 rows is one vectorised call and one lead with explanations is one
``pred_contrib`` call (its contributions sum to the raw log-odds, so no second predict is needed).

With no champion, or a champion trained on other features than the ones the caller scores (for
example a model trained from a CSV file while the service scores store features), the seed's
points model answers, ``version`` is ``"baseline:points"`` and ``note`` says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.features.definitions import ATTRIBUTE_PREFIX, FEATURE_SOURCE
from optimizer.models.lead_score import META_FILE, LeadScoreModel, Reason, top_reasons
from optimizer.models.points import points_inputs, points_reasons, points_score, points_segment
from optimizer.models.registry import load_champion
from optimizer.settings import Settings

BASELINE_VERSION = "baseline:points"
STORE_FEATURES = FEATURE_SOURCE


@dataclass(frozen=True)
class LeadScores:
    """Scores of a pool, row-aligned with the input frame."""

    probability: np.ndarray  # float64; for the points baseline: points / 100 (not calibrated)
    score: np.ndarray  # float64, 0-100
    segment: np.ndarray  # "hot" | "warm" | "cold"
    reasons: tuple[tuple[Reason, ...], ...]  # per row (feature, contribution); () if not asked
    model_version: str  # "lead-score:<version>" or "baseline:points"
    note: str | None = None  # why the baseline answered, when it did


@dataclass(frozen=True)
class LeadScore:
    probability: float
    score: float
    segment: str
    reasons: tuple[Reason, ...]
    model_version: str
    note: str | None = None


class LeadScorer:
    """Scores leads with the champion model, or with the points baseline (and says so)."""

    def __init__(
        self,
        model: LeadScoreModel | None,
        *,
        version: str,
        feature_source: str = STORE_FEATURES,
        note: str | None = None,
    ) -> None:
        self.model = model
        self.version = version if model is not None else BASELINE_VERSION
        self.feature_source = feature_source
        self.note = note
        if model is not None and model.spec.source != feature_source:
            self.note = (
                f"{version} was trained on features from {model.spec.source!r}, but this "
                f"scorer is asked to score {feature_source!r} features: the points baseline "
                "answers"
            )
            self.model = None
            self.version = BASELINE_VERSION

    @classmethod
    def load(
        cls,
        settings: Settings,
        *,
        feature_source: str = STORE_FEATURES,
        name: str | None = None,
        dst_dir: Path | None = None,
    ) -> LeadScorer:
        """Load ``models:/<name>@champion`` once (the points baseline when there is none)."""
        name = name or settings.lead_score_model_name
        loaded = load_champion(name, tracking_uri=settings.resolved_mlflow_uri(), dst_dir=dst_dir)
        if loaded is None:
            return cls(None, version=BASELINE_VERSION, note=f"model {name!r} has no champion")
        meta = next(iter(sorted(loaded.local_dir.rglob(META_FILE))), None)
        if meta is None:
            return cls(
                None,
                version=BASELINE_VERSION,
                note=f"{name} version {loaded.version} holds no {META_FILE}",
            )
        model = LeadScoreModel.load(meta.parent)
        return cls(model, version=f"{name}:{loaded.version}", feature_source=feature_source)

    def _required_missing(self, columns: list[str]) -> tuple[str, ...]:
        """Missing columns, except lead attributes (``attr_*``): a lead without one is NaN."""
        assert self.model is not None
        return tuple(
            c
            for c in self.model.spec.missing_columns(columns)
            if not c.startswith(ATTRIBUTE_PREFIX)
        )

    def _mismatch(self, columns: list[str]) -> str | None:
        missing = self._required_missing(columns)
        if not missing:
            return None
        return (
            f"{self.version} needs features {list(missing)[:5]} that the input lacks "
            f"({len(missing)} missing): the points baseline answers"
        )

    def score(self, features: pd.DataFrame, *, explain: bool = False, top_k: int = 3) -> LeadScores:
        """Score every row of ``features`` in one call; reasons only when ``explain``."""
        note = self.note
        if self.model is not None:
            note = self._mismatch(list(features.columns))
            if note is None:
                absent = self.model.spec.missing_columns(list(features.columns))
                if absent:
                    features = features.assign(**dict.fromkeys(absent, np.nan))
                return self._score_model(self.model, features, explain=explain, top_k=top_k)
        return self._score_baseline(features, explain=explain, note=note)

    def _score_model(
        self, model: LeadScoreModel, features: pd.DataFrame, *, explain: bool, top_k: int
    ) -> LeadScores:
        matrix = model.spec.encode(features)
        if explain:
            raw, contrib, names = model.explained(matrix)
            reasons = tuple(top_reasons(names, row, top_k) for row in contrib)
        else:
            raw = model.raw_probability(matrix)
            reasons = ()
        probability = model.calibrator.apply(raw)
        score = 100.0 * probability
        return LeadScores(
            probability=probability,
            score=score,
            segment=model.cutoffs.segment(score),
            reasons=reasons,
            model_version=self.version,
        )

    def _score_baseline(
        self, features: pd.DataFrame, *, explain: bool, note: str | None
    ) -> LeadScores:
        inputs = points_inputs(features)
        score = points_score(inputs)
        reasons: tuple[tuple[Reason, ...], ...] = ()
        if explain:
            reasons = tuple(
                tuple((item.name, item.points) for item in points_reasons(inputs, i))
                for i in range(len(features))
            )
        return LeadScores(
            probability=score / 100.0,
            score=score,
            segment=points_segment(score),
            reasons=reasons,
            model_version=BASELINE_VERSION,
            note=note,
        )

    def score_one(
        self, features: Mapping[str, object], *, explain: bool = True, top_k: int = 3
    ) -> LeadScore:
        """One lead (a mapping of feature name to value): the low-latency path."""
        model = self.model
        if model is None or self._required_missing(list(features)):
            frame = pd.DataFrame([dict(features)])
            pool = self.score(frame, explain=explain, top_k=top_k)
            return LeadScore(
                probability=float(pool.probability[0]),
                score=float(pool.score[0]),
                segment=str(pool.segment[0]),
                reasons=pool.reasons[0] if pool.reasons else (),
                model_version=pool.model_version,
                note=pool.note,
            )
        row = model.spec.encode_row(dict(features))
        if explain:
            raws, contrib, names = model.explained(row, num_threads=1)
            raw = float(raws[0])
            reasons = top_reasons(names, contrib[0], top_k)
        else:
            raw = float(model.raw_probability(row, num_threads=1)[0])
            reasons = ()
        probability = float(model.calibrator.apply(np.array([raw]))[0])
        score = 100.0 * probability
        segment = str(model.cutoffs.segment(np.array([score]))[0])
        return LeadScore(probability, score, segment, reasons, self.version)
