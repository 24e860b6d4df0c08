from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from optimizer.errors import InvalidInput
from optimizer.models.send_time import SendTimeModel
from optimizer.models.send_time_features import lead_frame, slot_times
from optimizer.models.send_time_store import load_lead_features
from optimizer.settings import Settings
from optimizer.simulation import SimConfig, World
from optimizer.simulation.history import write_history
from optimizer.store.db import make_engine, session_factory, transaction, upgrade
from optimizer.store.models import Consent, Event, Lead, Suppression
from training.train_send_time import fit_send_time, load_frames, send_rows, train_send_time

NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> sessionmaker[Session]:
    """One store with a small world's history, shared by the tests of this module."""
    root = tmp_path_factory.mktemp("send_time_store")
    engine = make_engine(f"sqlite:///{root / 'store.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    config = SimConfig(seed=21, history_leads=450, opt_out_rate=0.02)
    world = World.create(config, start=NOW, days=0, arrivals=0)
    with transaction(sessions) as session:
        summary = write_history(
            session, world, leads=None, settings=Settings(var_dir=root), now=NOW
        )
    assert summary.leads == 450 and summary.sends > 1500 and summary.opt_outs > 0
    return sessions


def test_history_goes_through_the_service_layer(filled: sessionmaker[Session]) -> None:
    with transaction(filled) as session:
        leads = session.scalar(select(func.count()).select_from(Lead))
        consents = session.scalar(
            select(func.count()).select_from(Consent).where(Consent.kind == "grant")
        )
        sent = session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.type == "sent", Event.marketing.is_(True))
        )
        types = set(session.scalars(select(Event.type).distinct()))
        suppressed = session.scalar(select(func.count()).select_from(Suppression))
        latest = session.scalar(select(func.max(Event.occurred_at)))
    assert leads == 450 and 0.9 * 450 < consents <= 450
    assert sent > 1500 and suppressed > 0
    assert {"email_open", "click", "visit", "sent", "delivered", "reply", "inbound"} <= types
    assert latest is not None and latest < NOW


def test_fit_save_load_and_score(
    filled: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    with transaction(filled) as session:
        leads, events = load_frames(session)
    rows = send_rows(leads, events, attribution_hours=settings.attribution_hours, now=NOW)
    assert rows.label.mean() > 0.02
    # Point in time: no feature counts an event at or after its send.
    assert (rows.features["n_sent"].to_numpy() < 50).all()
    fit = fit_send_time(rows, seed=1)
    assert np.isfinite(fit.metrics["holdout_roc_auc"])
    fit.model.save(tmp_path / "m")
    again = SendTimeModel.from_dir(tmp_path / "m", version="x")
    feats = rows.features.head(5)
    slots = slot_times(NOW, 72)
    a = fit.model.score_slots(feats, slots, "America/Chicago")
    b = again.score_slots(feats, slots, "America/Chicago")
    assert a.shape == (5, 72) and np.allclose(a, b)
    assert ((a > 0) & (a < 1)).all()


def test_train_registers_challenger_and_promotes(
    filled: sessionmaker[Session], settings: Settings, mlflow_uri: str
) -> None:
    settings = settings.model_copy(update={"mlflow_tracking_uri": mlflow_uri})
    assert SendTimeModel.load(settings).version == "send-time:priors"
    with transaction(filled) as session:
        result = train_send_time(session, settings, now=NOW, promote_if_better=True)
    assert result.version == "1"
    assert result.promoted, result.promotion_reason
    loaded = SendTimeModel.load(settings)
    assert loaded.version == "send-time:1" and loaded.booster is not None


def test_serving_rows_from_the_store_match_training_rows(filled: sessionmaker[Session]) -> None:
    with transaction(filled) as session:
        leads, events = load_frames(session)
        ids = leads.index[:4].tolist()
        features, zones = load_lead_features(session, lead_ids=ids, as_of=NOW)
        with pytest.raises(InvalidInput, match=r"lead ids \[999999\] do not exist"):
            load_lead_features(session, lead_ids=[999999], as_of=NOW)
    reference = lead_frame(
        leads,
        events,
        rows_lead=np.array(ids),
        rows_at=np.full(4, np.datetime64("2026-03-02T14:00", "ns")),
    )
    assert features.equals(reference)
    assert len(zones) == 4 and all(isinstance(z, str) for z in zones)
