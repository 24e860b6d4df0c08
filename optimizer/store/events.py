"""One lead's events as read once by the single-lead decision, shared by its readers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row


@dataclass(frozen=True, slots=True)
class LeadEvents:
    """Rows (type, channel, occurred_at, value, marketing, meta, text) of every event of
    ``lead_id`` with ``occurred_at <= now``, in the order the store returned them."""

    lead_id: int
    now: dt.datetime
    rows: tuple[Row[Any], ...]

    def covers(self, lead_id: int, now: dt.datetime) -> bool:
        """These are the events of ``lead_id`` up to exactly ``now`` (else read them again)."""
        return self.lead_id == lead_id and self.now == now

    def before(self, as_of: dt.datetime) -> list[Row[Any]]:
        """The rows with ``occurred_at < as_of`` (``as_of <= now``), in the same order."""
        return [row for row in self.rows if row.occurred_at < as_of]
