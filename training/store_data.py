"""Training rows from the event log: one row per marketing touch, labelled by a conversion.

A touch is an event ``type='sent'`` with ``marketing=true``. Its features are the lead's state
as of the send (events strictly before it); its label is 1 when the lead has a ``conversion``
event in ``(sent_at, sent_at + horizon]``. Touches whose horizon has not closed by ``now`` are
left out (their label is not known yet). Rows are in time order of the send.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from optimizer.errors import InvalidInput
from optimizer.features.build import build_features
from optimizer.features.definitions import FEATURE_SOURCE
from optimizer.features.store import load_frames
from training.datasets import MIN_CLASS_ROWS, TrainingData


def touch_labels(events: pd.DataFrame, *, horizon_days: int, now: dt.datetime) -> pd.DataFrame:
    """Touches (``lead_id``, ``as_of``) with ``label``; pure, over an events frame."""
    horizon = pd.Timedelta(days=horizon_days)
    stamp = pd.Timestamp(now).tz_convert("UTC")
    sends = events.loc[
        (events["type"] == "sent") & events["marketing"].astype(bool),
        ["lead_id", "occurred_at"],
    ]
    sends = sends.loc[sends["occurred_at"] + horizon <= stamp]
    sends = sends.rename(columns={"occurred_at": "as_of"}).sort_values("as_of", kind="stable")
    conversions = events.loc[events["type"] == "conversion", ["lead_id", "occurred_at"]]
    conversions = conversions.rename(columns={"occurred_at": "converted_at"})
    joined = pd.merge_asof(
        sends.reset_index(drop=True),
        conversions.sort_values("converted_at", kind="stable"),
        left_on="as_of",
        right_on="converted_at",
        by="lead_id",
        direction="forward",
        allow_exact_matches=False,
    )
    label = joined["converted_at"].notna() & (joined["converted_at"] <= joined["as_of"] + horizon)
    return pd.DataFrame(
        {
            "lead_id": joined["lead_id"].to_numpy(),
            "as_of": joined["as_of"],
            "label": label.to_numpy().astype(np.int64),
        }
    )


def training_data_from_frames(
    events: pd.DataFrame, leads: pd.DataFrame, *, horizon_days: int, now: dt.datetime
) -> TrainingData:
    touches = touch_labels(events, horizon_days=horizon_days, now=now)
    if touches.empty:
        raise InvalidInput(
            f"the event log has no marketing sends whose {horizon_days}-day conversion "
            f"horizon closed before {now.isoformat()}"
        )
    y = touches["label"].to_numpy()
    positives = int(y.sum())
    if min(positives, len(y) - positives) < MIN_CLASS_ROWS:
        raise InvalidInput(
            f"the event log gives {len(y)} marketing touches with {positives} conversions "
            f"within {horizon_days} days (at least {MIN_CLASS_ROWS} of each class needed)"
        )
    frame = build_features(events, leads, touches[["lead_id", "as_of"]])
    sha = hashlib.sha256()
    sha.update(touches["lead_id"].to_numpy(dtype=np.int64).tobytes())
    sha.update(touches["as_of"].astype("int64").to_numpy().tobytes())
    sha.update(y.tobytes())
    return TrainingData(
        frame=frame,
        y=y,
        name="store:events",
        source="store",
        digest=sha.hexdigest(),
        time_ordered=True,
        feature_source=FEATURE_SOURCE,
        target=f"conversion_within_{horizon_days}d",
        positive="1",
    )


def store_training_data(session: Session, *, horizon_days: int, now: dt.datetime) -> TrainingData:
    """Every marketing touch in the store with a closed horizon, as training rows."""
    events, leads = load_frames(session, lead_ids=None, before=now)
    return training_data_from_frames(events, leads, horizon_days=horizon_days, now=now)
