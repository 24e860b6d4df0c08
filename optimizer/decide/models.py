"""The models the decision service uses, loaded once: lead score, send time, bandit choice.

Adapters over ``optimizer.models`` and ``optimizer.bandits`` so that the decision flow sees one
small interface; without trained champions the baselines answer and the versions say so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from optimizer.compliance.recipient import MODEL_FALLBACK_ZONE
from optimizer.settings import Settings
from optimizer.store.events import LeadEvents
from optimizer.store.models import Lead


@dataclass(frozen=True, slots=True)
class ScoreRow:
    probability: float
    score: float
    segment: str
    top_features: tuple[tuple[str, float], ...]
    version: str


@dataclass(frozen=True, slots=True)
class SlotPick:
    index: int | None
    propensity: float
    probability: float
    best: int | None = None  # the greedy choice (``index`` differs when the pick explored)
    exploration: float = 0.0  # the share of picks made uniformly among the allowed slots


# Reason codes a decision carries when a model that should have answered could not be loaded
# and its baseline answered instead.
FALLBACK_LEAD_SCORE = "models.fallback.lead_score"
FALLBACK_SEND_TIME = "models.fallback.send_time"
# The uplift champion failed to load: the batch ranks by expected value (its baseline).
FALLBACK_UPLIFT = "models.fallback.uplift"


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


class LoadedModels:
    def __init__(
        self,
        *,
        settings: Settings,
        scorer: Any,
        send_time: Any,
        exploration: float = 0.05,
        failures: dict[str, str] | None = None,
        uplift: Any = None,
        uplift_note: str = "",
    ) -> None:
        self.settings = settings
        self.scorer = scorer
        self.send_time = send_time
        # The uplift champion trained on store features (an UpliftScorer), or None: then the
        # batch ranks by expected value, and ``uplift_note`` says why.
        self.uplift = uplift
        self.uplift_note = uplift_note
        self.exploration = exploration
        # Reason code -> why the model failed to load (empty when every model loaded, or had
        # no champion and its baseline answers by design).
        self.failures: dict[str, str] = dict(failures or {})
        self.fallback_reasons: tuple[tuple[str, str], ...] = tuple(
            (code, f"model failed to load, its baseline answers: {why}")
            for code, why in self.failures.items()
        )

    @classmethod
    def load(cls, settings: Settings) -> LoadedModels:
        """The champions; a model that cannot be loaded (store unreadable, artifact corrupted,
        a champion without its files, any error of the loader) is replaced by its baseline (the
        points model, the cold-start priors) and recorded in ``failures``."""
        from optimizer.models.send_time import SendTimeModel
        from optimizer.models.serving import BASELINE_VERSION, LeadScorer

        failures: dict[str, str] = {}
        scorer: Any
        send_time: Any
        try:
            scorer = LeadScorer.load(settings)
        except Exception as exc:  # any failure: the baseline answers and the decision says so
            failures[FALLBACK_LEAD_SCORE] = f"{settings.lead_score_model_name}: {_why(exc)}"
            scorer = LeadScorer(None, version=BASELINE_VERSION, note=failures[FALLBACK_LEAD_SCORE])
        try:
            send_time = SendTimeModel.load(settings)
        except Exception as exc:
            failures[FALLBACK_SEND_TIME] = f"{settings.send_time_model_name}: {_why(exc)}"
            send_time = SendTimeModel(None, note=failures[FALLBACK_SEND_TIME])
        uplift: Any = None
        uplift_note = ""
        try:
            from optimizer.models.uplift_serving import UpliftScorer

            uplift, uplift_note = UpliftScorer.load(settings)
        except Exception as exc:
            failures[FALLBACK_UPLIFT] = f"{settings.uplift_model_name}: {_why(exc)}"
            uplift, uplift_note = None, failures[FALLBACK_UPLIFT]
        return cls(
            settings=settings,
            scorer=scorer,
            send_time=send_time,
            failures=failures,
            uplift=uplift,
            uplift_note=uplift_note,
        )

    # -- versions --------------------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        out = {
            self.settings.lead_score_model_name: str(self.scorer.version),
            self.settings.send_time_model_name: str(self.send_time.version),
        }
        if self.uplift is not None:  # only when it ranks batches
            out[self.settings.uplift_model_name] = str(self.uplift.version)
        return out

    def send_time_version(self) -> str:
        return f"{self.settings.send_time_model_name} {self.send_time.version}"

    # -- lead score ------------------------------------------------------------------------
    def features(
        self, session: Session, *, lead_ids: Sequence[int], now: dt.datetime
    ) -> pd.DataFrame:
        from optimizer.features.store import load_lead_features

        return load_lead_features(session, lead_ids=list(lead_ids), as_of=now)

    def score_frame(self, features: pd.DataFrame, *, explain: bool = True) -> list[ScoreRow]:
        scores = self.scorer.score(features, explain=explain)
        version = str(scores.model_version)
        return [
            ScoreRow(
                probability=float(scores.probability[i]),
                score=float(scores.score[i]),
                segment=str(scores.segment[i]),
                top_features=tuple((str(f), float(c)) for f, c in scores.reasons[i])
                if scores.reasons
                else (),
                version=version,
            )
            for i in range(len(features))
        ]

    def score_one(
        self,
        session: Session,
        *,
        lead: Lead,
        now: dt.datetime,
        events: LeadEvents | None = None,
    ) -> ScoreRow:
        """One lead: the scorer's low-latency path (one ``pred_contrib`` call, no frame encode).

        The features come from the single-lead path (no pandas), equal to ``self.features``
        (from ``events`` when the caller has read the lead's events up to ``now``).
        """
        from optimizer.features.single import lead_feature_row

        row = lead_feature_row(session, lead_id=lead.id, as_of=now, lead=lead, events=events)
        scored = self.scorer.score_one(row, explain=True)
        return ScoreRow(
            probability=float(scored.probability),
            score=float(scored.score),
            segment=str(scored.segment),
            top_features=tuple((str(f), float(c)) for f, c in scored.reasons),
            version=str(scored.model_version),
        )

    # -- send time -------------------------------------------------------------------------
    def slot_probabilities(
        self,
        session: Session,
        *,
        lead: Lead,
        slots: Sequence[dt.datetime] | np.ndarray,
        zone: str | None,
        now: dt.datetime,
        events: LeadEvents | None = None,
    ) -> np.ndarray:
        """One lead's predicted response at each slot (aware datetimes, or UTC datetime64)."""
        # Its arrays straight from its events (same input as ``send_time_features`` gives,
        # without the pool path's fixed pandas cost).
        from optimizer.models.send_time_single import send_time_inputs

        rows, _zone = send_time_inputs(
            session, lead_id=lead.id, as_of=now, lead=lead, events=events
        )
        times = slots if isinstance(slots, np.ndarray) else list(slots)
        return np.asarray(self.send_time.score_slots(rows, times, zone or MODEL_FALLBACK_ZONE))[0]

    def send_time_features(
        self, session: Session, *, lead_ids: Sequence[int], now: dt.datetime
    ) -> pd.DataFrame:
        from optimizer.models.send_time_store import load_lead_features

        features, _zones = load_lead_features(session, lead_ids=list(lead_ids), as_of=now)
        return features

    def choose_slot(
        self, rng: np.random.Generator, probs: np.ndarray, mask: np.ndarray
    ) -> SlotPick:
        from optimizer.models.send_time import choose_slot

        choice = choose_slot(rng, probs, mask, exploration=self.exploration)
        return SlotPick(
            index=choice.index,
            propensity=float(choice.propensity),
            probability=float(choice.probability),
            best=choice.best,
            exploration=float(self.exploration),
        )

    # -- variant ---------------------------------------------------------------------------
    def choose_variant(
        self,
        session: Session,
        *,
        experiment_id: int,
        rng: np.random.Generator,
        eligible_variant_ids: Sequence[int],
        now: dt.datetime,
        context: Any = None,
    ) -> Any:
        from optimizer.bandits.store import choose_variant

        return choose_variant(
            session,
            experiment_id=experiment_id,
            rng=rng,
            eligible_variant_ids=eligible_variant_ids,
            now=now,
            context=context,
        )
