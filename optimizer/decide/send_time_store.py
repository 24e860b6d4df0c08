"""Send-time model inputs for serving, from the store (the training path builds the same frames)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from optimizer.models.send_time_features import lead_frame, lead_zone
from optimizer.store.models import Event, Lead

_CHUNK = 5000


def load_send_time_frames(
    session: Session, *, lead_ids: Sequence[int] | None = None, before: dt.datetime | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(leads indexed by id with vertical, source, timezone; their events before ``before``)."""
    chunks: list[list[int] | None] = (
        [list(lead_ids[i : i + _CHUNK]) for i in range(0, len(lead_ids), _CHUNK)]
        if lead_ids is not None
        else [None]
    )
    lead_rows: list[tuple[object, ...]] = []
    event_rows: list[tuple[object, ...]] = []
    for chunk in chunks:
        lead_query = select(Lead.id, Lead.phone_e164, Lead.timezone, Lead.vertical, Lead.source)
        event_query = select(
            Event.lead_id, Event.type, Event.occurred_at, Event.marketing, Event.meta
        )
        if chunk is not None:
            lead_query = lead_query.where(Lead.id.in_(chunk))
            event_query = event_query.where(Event.lead_id.in_(chunk))
        if before is not None:
            event_query = event_query.where(Event.occurred_at < before)
        lead_rows.extend(tuple(r) for r in session.execute(lead_query).all())
        event_rows.extend(tuple(r) for r in session.execute(event_query).all())
    leads = pd.DataFrame(
        {
            "vertical": [r[3] for r in lead_rows],
            "source": [r[4] for r in lead_rows],
            "timezone": [lead_zone(str(r[1]), r[2]) for r in lead_rows],  # type: ignore[arg-type]
        },
        index=pd.Index([r[0] for r in lead_rows], name="lead_id"),
    )
    events = pd.DataFrame(
        {
            "lead_id": np.array([r[0] for r in event_rows], dtype=np.int64),
            "type": pd.array([r[1] for r in event_rows], dtype="str"),
            "occurred_at": pd.to_datetime([r[2] for r in event_rows], utc=True),
            "marketing": np.array([bool(r[3]) for r in event_rows], dtype=bool),
            "intent": pd.array([_intent(r[4]) for r in event_rows], dtype="str"),
        }
    )
    return leads, events


def _intent(meta: object) -> str:
    return str(meta.get("intent") or "") if isinstance(meta, dict) else ""


def load_send_time_features(
    session: Session, *, lead_ids: Sequence[int], as_of: dt.datetime
) -> pd.DataFrame:
    """One row per lead id: the send-time model's lead columns as of ``as_of``."""
    leads, events = load_send_time_frames(session, lead_ids=lead_ids, before=as_of)
    rows_lead = np.asarray(lead_ids, dtype=np.int64)
    rows_at = np.full(
        len(rows_lead), np.datetime64(as_of.astimezone(dt.UTC).replace(tzinfo=None), "ns")
    )
    return lead_frame(leads, events, rows_lead=rows_lead, rows_at=rows_at)
