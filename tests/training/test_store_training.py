"""Training rows from the event log, and a store-trained champion serving store features."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from optimizer.cli import main
from optimizer.errors import InvalidInput
from optimizer.features.store import load_lead_features
from optimizer.models.serving import LeadScorer
from optimizer.settings import Settings, get_settings
from optimizer.store.db import transaction
from tests.features.factories import insert_into_store, make_leads
from tests.training.world import END, make_world
from training.store_data import touch_labels, training_data_from_frames

T0 = pd.Timestamp("2026-03-01T12:00:00Z")


def _events(rows: list[tuple[int, str, pd.Timestamp, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "type": pd.array([r[1] for r in rows], dtype="str"),
            "channel": pd.array(["sms"] * len(rows), dtype="str"),
            "occurred_at": pd.to_datetime([r[2] for r in rows], utc=True),
            "value": [np.nan] * len(rows),
            "marketing": [r[3] for r in rows],
        }
    )


def test_touches_are_labelled_by_a_conversion_within_the_horizon() -> None:
    day = pd.Timedelta(days=1)
    events = _events(
        [
            (1, "sent", T0, True),  # converts on day 14 exactly: positive
            (1, "conversion", T0 + 14 * day, False),
            (2, "sent", T0, True),  # converts on day 15: negative
            (2, "conversion", T0 + 15 * day, False),
            (3, "sent", T0, False),  # not marketing: not a touch
            (4, "sent", T0 + 20 * day, True),  # horizon still open at `now`: left out
            (5, "conversion", T0, False),  # same instant as the send: not after it
            (5, "sent", T0, True),
        ]
    )
    touches = touch_labels(events, horizon_days=14, now=(T0 + 25 * day).to_pydatetime())
    labels = dict(zip(touches["lead_id"], touches["label"], strict=True))
    assert labels == {1: 1, 2: 0, 5: 0}
    assert touches["as_of"].is_monotonic_increasing


def test_too_few_touches_are_refused() -> None:
    leads = make_leads(2)
    events = _events([(1, "sent", T0, True)])
    with pytest.raises(InvalidInput, match="at least 5 of each class"):
        training_data_from_frames(
            events, leads, horizon_days=14, now=(T0 + pd.Timedelta(days=30)).to_pydatetime()
        )
    with pytest.raises(InvalidInput, match="no marketing sends"):
        training_data_from_frames(events, leads, horizon_days=14, now=T0.to_pydatetime())


def test_store_model_trains_from_the_event_log_and_serves_store_features(
    engine: Engine,
    sessions: sessionmaker[Session],
    ml_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    leads, events = make_world(400, seed=2)
    with transaction(sessions) as session:
        insert_into_store(session, leads, events)
    monkeypatch.setenv("OPTIMIZER_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    code = main(["train", "lead-score", "--as-of", END.isoformat()])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    trained = json.loads(out[-1])
    assert trained["rows"] > 1000 and trained["features"] > 70
    assert trained["metrics"]["holdout.roc_auc"] > 0.6
    assert main(["models", "validate", "lead-score"]) == 0
    assert main(["models", "promote", "lead-score", "--force"]) == 0
    capsys.readouterr()

    scorer = LeadScorer.load(ml_settings)
    assert scorer.version == "lead-score:1" and scorer.note is None
    with transaction(sessions) as session:
        features = load_lead_features(session, lead_ids=[1, 2, 3], as_of=END + dt.timedelta(days=1))
    scores = scorer.score(features, explain=True)
    assert scores.model_version == "lead-score:1"
    assert len(scores.reasons) == 3 and all(len(r) == 3 for r in scores.reasons)
    # A lead without some zero-party attribute still gets the model (the attribute is missing).
    one = scorer.score_one(features.drop(columns=["attr_vip"]).iloc[0].to_dict())
    assert one.model_version == "lead-score:1"
