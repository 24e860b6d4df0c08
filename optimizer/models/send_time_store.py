"""The send-time model's inputs read from the store: leads with their display zones and the
events its features count (pure feature code in :mod:`optimizer.models.send_time_features`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from optimizer.errors import InvalidInput
from optimizer.features.bounds import events_in_frame
from optimizer.models.send_time_features import lead_frame, lead_zone
from optimizer.store.models import Event, Lead


def store_frames(
    session: Session, *, lead_ids: Sequence[int] | None = None, before: dt.datetime | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(leads indexed by id with vertical, source, timezone; their events) from the store."""
    lead_query = select(
        Lead.id, Lead.phone_e164, Lead.timezone, Lead.state, Lead.vertical, Lead.source
    )
    event_query = select(Event.lead_id, Event.type, Event.occurred_at, Event.marketing, Event.meta)
    if lead_ids is not None:
        ids = sorted({int(i) for i in lead_ids})
        lead_query = lead_query.where(Lead.id.in_(ids))
        event_query = event_query.where(Event.lead_id.in_(ids))
    event_query = event_query.where(*events_in_frame(before))
    lead_rows = session.execute(lead_query).all()
    leads = pd.DataFrame(
        {
            "vertical": [r.vertical for r in lead_rows],
            "source": [r.source for r in lead_rows],
            "timezone": [lead_zone(r.phone_e164, r.timezone, r.state) for r in lead_rows],
        },
        index=pd.Index([r.id for r in lead_rows], name="lead_id"),
    )
    rows = session.execute(event_query).all()
    events = pd.DataFrame(
        {
            "lead_id": np.array([r.lead_id for r in rows], dtype=np.int64),
            "type": pd.array([r.type for r in rows], dtype="str"),
            "occurred_at": pd.to_datetime([r.occurred_at for r in rows], utc=True),
            "marketing": np.array([bool(r.marketing) for r in rows], dtype=bool),
            "intent": pd.array([(r.meta or {}).get("intent") or "" for r in rows], dtype="str"),
        }
    )
    return leads, events


def load_lead_features(
    session: Session, *, lead_ids: Sequence[int], as_of: dt.datetime
) -> tuple[pd.DataFrame, np.ndarray]:
    """Serving rows for ``SendTimeModel.score_slots``: (lead features in the order of
    ``lead_ids``, their time zones), from events strictly before ``as_of``."""
    leads, events = store_frames(session, lead_ids=lead_ids, before=as_of)
    ids = np.asarray(lead_ids, dtype=np.int64)
    missing = sorted(set(ids.tolist()) - set(leads.index.tolist()))
    if missing:
        raise InvalidInput(
            f"lead ids {missing[:5]} do not exist (known lead ids expected)", field="lead_ids"
        )
    at = np.full(len(ids), pd.Timestamp(as_of).tz_convert("UTC").tz_localize(None).to_datetime64())
    features = lead_frame(leads, events, rows_lead=ids, rows_at=at)
    return features, leads["timezone"].reindex(ids).to_numpy(dtype=object)
