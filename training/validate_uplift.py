"""Validate the uplift ``challenger`` against the ``champion`` on the challenger's holdout.

The holdout rows (features, outcome, treatment flag and the response model's score) are the
ones the challenger's training run kept aside and logged; the challenger, the champion and the
response model are scored on exactly these rows by Qini. A champion that reads other features
(a model trained on a file, scored against the store's) or predicts another kind of outcome
cannot be compared: the report says so, and :func:`optimizer.models.registry.promote` will not
promote on it without ``--force``. The result is stored as ``validation.*`` tags on the
challenger's model version, as ``optimizer train uplift`` does at training time.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import InvalidInput, NotFound
from optimizer.models.registry import (
    CHALLENGER,
    CHAMPION,
    LoadedVersion,
    ValidationRecord,
    client_for,
    load_alias,
    record_validation,
)
from optimizer.models.uplift import META_FILE, UpliftModel
from optimizer.models.uplift_metrics import qini_auc_score
from optimizer.settings import Settings
from training.train_uplift import (
    HOLDOUT_ARTIFACT,
    RESPONSE_COLUMN,
    TREATMENT_COLUMN,
    Y_COLUMN,
    score_if_comparable,
)

METRIC = "qini"


@dataclass(frozen=True)
class UpliftValidation:
    name: str
    metric: str
    rows: int
    challenger_version: str
    challenger: float
    champion_version: str | None
    champion: float | None
    response: float
    comparable: bool
    note: str


def _model_of(loaded: LoadedVersion) -> UpliftModel:
    meta = next(iter(sorted(loaded.local_dir.rglob(META_FILE))), None)
    if meta is None:
        raise InvalidInput(f"{loaded.name} version {loaded.version} holds no {META_FILE}")
    return UpliftModel.load(meta.parent)


def _holdout(settings: Settings, loaded: LoadedVersion, tmp: Path) -> pd.DataFrame:
    if loaded.run_id is None:
        raise InvalidInput(f"{loaded.name} version {loaded.version} has no training run")
    client = client_for(settings.resolved_mlflow_uri())
    try:
        path = client.download_artifacts(loaded.run_id, HOLDOUT_ARTIFACT, dst_path=str(tmp))
    except Exception as exc:
        raise InvalidInput(
            f"{loaded.name} version {loaded.version}'s run {loaded.run_id} logged no "
            f"{HOLDOUT_ARTIFACT} (trained before holdouts were logged: train it again)"
        ) from exc
    return pd.read_parquet(path)


def validate_uplift(settings: Settings) -> UpliftValidation:
    """Qini of challenger, champion and the response model on the challenger's holdout."""
    name = settings.uplift_model_name
    uri = settings.resolved_mlflow_uri()
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        challenger = load_alias(name, CHALLENGER, tracking_uri=uri, dst_dir=tmp / "challenger")
        if challenger is None:
            raise NotFound(f"model {name!r} has no version with alias {CHALLENGER!r}")
        champion = load_alias(name, CHAMPION, tracking_uri=uri, dst_dir=tmp / "champion")
        frame = _holdout(settings, challenger, tmp / "holdout")
        y = frame.pop(Y_COLUMN).to_numpy(dtype=np.float64)
        treatment = frame.pop(TREATMENT_COLUMN).to_numpy(dtype=np.int64)
        response = frame.pop(RESPONSE_COLUMN).to_numpy(dtype=np.float64)
        model = _model_of(challenger)
        challenger_qini = qini_auc_score(y, model.predict(model.spec.encode(frame)), treatment)
        response_qini = qini_auc_score(y, response, treatment)
        champion_qini: float | None = None
        comparable = True
        note = "no champion yet: the challenger must beat the response model's Qini"
        if champion is not None:
            other = _model_of(champion)
            score = score_if_comparable(
                other, frame, feature_source=model.spec.source, outcome=model.outcome
            )
            if score is None:
                comparable = False
                note = (
                    f"champion {champion.version} reads features from {other.spec.source!r} "
                    f"({other.outcome}), the challenger {model.spec.source!r} ({model.outcome}): "
                    "not comparable on the same holdout"
                )
            else:
                champion_qini = qini_auc_score(y, score, treatment)
                note = "challenger and champion scored on the challenger's holdout"
    report = UpliftValidation(
        name=name,
        metric=METRIC,
        rows=len(y),
        challenger_version=challenger.version,
        challenger=challenger_qini,
        champion_version=None if champion is None else champion.version,
        champion=champion_qini,
        response=response_qini,
        comparable=comparable,
        note=note,
    )
    record_validation(
        name,
        ValidationRecord(
            metric=METRIC,
            challenger_version=challenger.version,
            challenger=challenger_qini,
            champion_version=report.champion_version,
            champion=champion_qini,
            baseline=response_qini,
            comparable=comparable and champion_qini is not None,
        ),
        client=client_for(uri),
    )
    return report
