"""Validate the lead-score ``challenger`` against the ``champion`` on the challenger's holdout.

The holdout rows are the ones the challenger's training run kept aside (logged with the run), so
both models and the points baseline are scored on exactly the same rows. A champion that needs
features the holdout does not have (a model trained on other data) cannot be compared: the
report says so and :func:`optimizer.models.registry.promote` will not promote on it.
The result is stored as ``validation.*`` tags on the challenger's model version.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import InvalidInput, NotFound
from optimizer.features.definitions import ATTRIBUTE_PREFIX
from optimizer.models.lead_score import META_FILE, LeadScoreModel
from optimizer.models.metrics import BinaryMetrics, binary_metrics
from optimizer.models.points import points_inputs, points_score
from optimizer.models.registry import (
    CHALLENGER,
    CHAMPION,
    LoadedVersion,
    ValidationRecord,
    client_for,
    load_alias,
    record_validation,
)
from optimizer.settings import Settings
from training.train_lead_score import HOLDOUT_ARTIFACT, LABEL_COLUMN

METRIC = "roc_auc"


@dataclass(frozen=True)
class ValidationReport:
    name: str
    metric: str
    rows: int
    challenger_version: str
    challenger: BinaryMetrics
    champion_version: str | None
    champion: BinaryMetrics | None
    points: BinaryMetrics
    comparable: bool
    note: str


def _model_of(loaded: LoadedVersion) -> LeadScoreModel:
    meta = next(iter(sorted(loaded.local_dir.rglob(META_FILE))), None)
    if meta is None:
        raise InvalidInput(f"{loaded.name} version {loaded.version} holds no {META_FILE}")
    return LeadScoreModel.load(meta.parent)


def _holdout(settings: Settings, run_id: str | None, tmp: Path) -> pd.DataFrame:
    if run_id is None:
        raise InvalidInput("the challenger has no training run, so it has no holdout")
    client = client_for(settings.resolved_mlflow_uri())
    path = client.download_artifacts(run_id, HOLDOUT_ARTIFACT, dst_path=str(tmp))
    return pd.read_parquet(path)


def validate_lead_score(settings: Settings, *, name: str | None = None) -> ValidationReport:
    """Score challenger, champion and the points baseline on the challenger's holdout."""
    name = name or settings.lead_score_model_name
    uri = settings.resolved_mlflow_uri()
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        challenger = load_alias(name, CHALLENGER, tracking_uri=uri, dst_dir=tmp / "challenger")
        if challenger is None:
            raise NotFound(f"model {name!r} has no version with alias {CHALLENGER!r}")
        champion = load_alias(name, CHAMPION, tracking_uri=uri, dst_dir=tmp / "champion")
        holdout = _holdout(settings, challenger.run_id, tmp / "holdout")
        y = holdout.pop(LABEL_COLUMN).to_numpy(dtype=np.int64)
        challenger_model = _model_of(challenger)
        challenger_metrics = binary_metrics(y, challenger_model.predict_frame(holdout))
        # Points are a ranking, not a probability: only the ranking metrics are reported.
        points = replace(
            binary_metrics(y, points_score(points_inputs(holdout)) / 100.0),
            brier=math.nan,
            log_loss=math.nan,
        )
        champion_metrics = None
        comparable = True
        note = "no champion yet: the challenger must beat the points baseline"
        if champion is not None:
            champion_model = _model_of(champion)
            absent = champion_model.spec.missing_columns(list(holdout.columns))
            # A lead attribute the challenger's data lacks is a missing value, as in serving.
            missing = [c for c in absent if not c.startswith(ATTRIBUTE_PREFIX)]
            if missing or champion_model.spec.source != challenger_model.spec.source:
                comparable = False
                note = (
                    f"champion {champion.version} was trained on features from "
                    f"{champion_model.spec.source!r}, the challenger on "
                    f"{challenger_model.spec.source!r}: not comparable on the same holdout"
                )
            else:
                filled = holdout.assign(**dict.fromkeys(absent, np.nan))
                champion_metrics = binary_metrics(y, champion_model.predict_frame(filled))
                note = "challenger and champion scored on the challenger's holdout"
    report = ValidationReport(
        name=name,
        metric=METRIC,
        rows=len(y),
        challenger_version=challenger.version,
        challenger=challenger_metrics,
        champion_version=None if champion is None else champion.version,
        champion=champion_metrics,
        points=points,
        comparable=comparable,
        note=note,
    )
    record_validation(
        name,
        ValidationRecord(
            metric=METRIC,
            challenger_version=challenger.version,
            challenger=challenger_metrics.roc_auc,
            champion_version=report.champion_version,
            champion=None if champion_metrics is None else champion_metrics.roc_auc,
            baseline=points.roc_auc,
            comparable=comparable,
        ),
        client=client_for(uri),
    )
    return report
