"""Serving wrapper for ``models:/uplift@champion``: the incremental effect of a text per lead.

Only a champion trained on the store's own features (``optimizer train uplift --from-store``)
can score the service's leads; one trained on a file (its own columns) cannot, and then there
is no uplift scorer: the batch ranks by expected value, as without a champion. A lead attribute
the model knew and a lead lacks is a missing value, as for the lead score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.features.definitions import ATTRIBUTE_PREFIX, FEATURE_SOURCE
from optimizer.models.registry import load_champion
from optimizer.models.uplift import META_FILE, UpliftModel
from optimizer.settings import Settings


@dataclass(frozen=True)
class UpliftScorer:
    model: UpliftModel
    version: str  # "uplift:<version>"
    target: str  # what the uplift is of, e.g. "reply_within_7d"

    @classmethod
    def load(
        cls, settings: Settings, *, dst_dir: Path | None = None
    ) -> tuple[UpliftScorer | None, str]:
        """(the champion's scorer, or None; why there is none). Raises when the champion
        exists but cannot be read (the caller falls back and says so)."""
        name = settings.uplift_model_name
        loaded = load_champion(name, tracking_uri=settings.resolved_mlflow_uri(), dst_dir=dst_dir)
        if loaded is None:
            return None, f"model {name!r} has no champion"
        meta = next(iter(sorted(loaded.local_dir.rglob(META_FILE))), None)
        if meta is None:
            raise ValueError(f"{name} version {loaded.version} holds no {META_FILE}")
        model = UpliftModel.load(meta.parent)
        if model.spec.source != FEATURE_SOURCE:
            return None, (
                f"{name} version {loaded.version} was trained on features from "
                f"{model.spec.source!r}, not the store's {FEATURE_SOURCE!r}: not used"
            )
        if model.outcome != "binary":
            return None, f"{name} version {loaded.version} predicts a {model.outcome} outcome"
        target = str(loaded.tags.get("target", ""))
        return cls(model=model, version=f"{name}:{loaded.version}", target=target), ""

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Uplift per row of ``features`` (the store's lead features, as the batch loads them)."""
        missing = self.model.spec.missing_columns(list(features.columns))
        required = [c for c in missing if not c.startswith(ATTRIBUTE_PREFIX)]
        if required:
            raise ValueError(
                f"{self.version} needs features {required[:5]} the service's rows lack "
                f"({len(required)} missing)"
            )
        if missing:
            features = features.assign(**dict.fromkeys(missing, np.nan))
        return np.asarray(self.model.predict(self.model.spec.encode(features)), dtype=np.float64)
