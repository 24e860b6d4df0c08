"""Load the event log and lead records from the store as the frames the features need.

Few queries: leads and events are fetched with ``IN`` lists in chunks of ``CHUNK`` ids (two
queries per chunk, and one for the leads' recorded changes), so 10,000 leads take six queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from optimizer.errors import InvalidInput
from optimizer.features.bounds import events_in_frame
from optimizer.features.build import LEAD_COLUMNS, build_features, empty_events
from optimizer.features.history import lead_versions
from optimizer.store.models import Event, Lead, LeadChange

CHUNK = 5_000
# The lead fields features read (LEAD_COLUMNS after lead_id), in that order.
LEAD_FIELDS = (
    Lead.created_at,
    Lead.source,
    Lead.vertical,
    Lead.state,
    Lead.timezone,
    Lead.attributes,
)


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted({int(i) for i in ids})
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


def _events_frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    if not rows:
        return empty_events()
    lead_id, kind, channel, occurred, value, marketing = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "lead_id": np.asarray(lead_id, dtype=np.int64),
            "type": pd.array(kind, dtype="str"),
            "channel": pd.array(channel, dtype="str"),
            "occurred_at": pd.to_datetime(list(occurred), utc=True),
            "value": np.asarray([np.nan if v is None else v for v in value], dtype=np.float64),
            "marketing": np.asarray([bool(m) for m in marketing], dtype=bool),
        }
    )


def _leads_frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in LEAD_COLUMNS})
    columns = list(zip(*rows, strict=True))
    frame = pd.DataFrame({name: list(col) for name, col in zip(LEAD_COLUMNS, columns, strict=True)})
    frame["lead_id"] = frame["lead_id"].astype(np.int64)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def _changes_frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    lead_id, changed_at, changes = zip(*rows, strict=True) if rows else ((), (), ())
    return pd.DataFrame(
        {
            "lead_id": np.asarray(lead_id, dtype=np.int64),
            "changed_at": pd.to_datetime(list(changed_at), utc=True),
            "changes": list(changes),
        }
    )


def load_frames(
    session: Session, *, lead_ids: Sequence[int] | None, before: dt.datetime | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, leads) frames for ``lead_ids`` (all leads when None), events before ``before``.

    The leads frame holds versions of each lead's record (``valid_until``, from
    ``lead_changes``), so features read a lead's fields as they were at each ``as_of``."""
    if before is not None and before.tzinfo is None:
        raise InvalidInput(f"as_of {before.isoformat()} has no time zone (aware UTC expected)")
    event_cols = (
        Event.lead_id,
        Event.type,
        Event.channel,
        Event.occurred_at,
        Event.value,
        Event.marketing,
    )
    lead_cols = (Lead.id, *LEAD_FIELDS)
    batches: list[list[int] | None] = list(_chunks(lead_ids)) if lead_ids is not None else [None]
    event_rows: list[tuple[object, ...]] = []
    lead_rows: list[tuple[object, ...]] = []
    change_rows: list[tuple[object, ...]] = []
    for batch in batches:
        lead_query = select(*lead_cols)
        event_query = select(*event_cols)
        change_query = select(LeadChange.lead_id, LeadChange.changed_at, LeadChange.changes)
        if batch is not None:
            lead_query = lead_query.where(Lead.id.in_(batch))
            event_query = event_query.where(Event.lead_id.in_(batch))
            change_query = change_query.where(LeadChange.lead_id.in_(batch))
        event_query = event_query.where(*events_in_frame(before))
        lead_rows.extend(tuple(r) for r in session.execute(lead_query).all())
        event_rows.extend(tuple(r) for r in session.execute(event_query).all())
        change_rows.extend(tuple(r) for r in session.execute(change_query).all())
    leads = lead_versions(_leads_frame(lead_rows), _changes_frame(change_rows))
    return _events_frame(event_rows), leads


def load_lead_features(
    session: Session, *, lead_ids: Sequence[int], as_of: dt.datetime
) -> pd.DataFrame:
    """Features of each lead as of ``as_of``; one row per id in ``lead_ids``, indexed by id.

    Unknown ids are refused (an :class:`InvalidInput` naming up to ten of them).
    """
    ids = [int(i) for i in lead_ids]
    events, leads = load_frames(session, lead_ids=ids, before=as_of)
    known = set(leads["lead_id"].tolist())
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise InvalidInput(f"lead ids {unknown[:10]} are not in the store ({len(unknown)} unknown)")
    requests = pd.DataFrame({"lead_id": ids, "as_of": pd.Timestamp(as_of).tz_convert("UTC")})
    features = build_features(events, leads, requests)
    features.index = pd.Index(ids, name="lead_id")
    return features
