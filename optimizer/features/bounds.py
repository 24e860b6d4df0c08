"""The instants a feature frame can hold: pandas' nanosecond timestamps span the years 1678 to
2261. A stored event outside them (a year-1 or year-9999 row written before validation existed:
the ledger is append-only) is left out of the frames, never a failure of the decision."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement

from optimizer.store.models import Event

FRAME_EARLIEST = dt.datetime(1678, 1, 1, tzinfo=dt.UTC)
FRAME_LATEST = dt.datetime(2262, 1, 1, tzinfo=dt.UTC)


def events_in_frame(before: dt.datetime | None) -> tuple[ColumnElement[bool], ...]:
    """Conditions on ``Event.occurred_at``: inside the frame range and before ``before``."""
    latest = min(before, FRAME_LATEST) if before is not None else FRAME_LATEST
    return (Event.occurred_at >= FRAME_EARLIEST, Event.occurred_at < latest)
