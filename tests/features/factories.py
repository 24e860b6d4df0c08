"""Synthetic leads and event logs (seeded) for feature and training tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from optimizer.features.definitions import CHANNELS, EVENT_TYPES

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TIMEZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", None, "Not/AZone")


def make_leads(n: int, *, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    created = [START + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 30 * 86400, n)]
    attributes: list[dict[str, object] | None] = []
    for i in range(n):
        if i % 5 == 0:
            attributes.append(None)
        else:
            attributes.append(
                {"budget": int(rng.integers(1, 9)) * 1000, "service": ["hvac", "roof"][i % 2]}
                | ({"vip": bool(i % 3 == 0)} if i % 4 else {"nested": {"x": 1}})
            )
    return pd.DataFrame(
        {
            "lead_id": np.arange(1, n + 1, dtype=np.int64),
            "created_at": pd.to_datetime(created, utc=True),
            "source": pd.array([["web", "ads", None][i % 3] for i in range(n)], dtype="str"),
            "vertical": pd.array([["retail", "healthcare"][i % 2] for i in range(n)], dtype="str"),
            "state": pd.array([["FL", "TX", "CA", None][i % 4] for i in range(n)], dtype="str"),
            "timezone": [TIMEZONES[i % len(TIMEZONES)] for i in range(n)],
            "attributes": attributes,
        }
    )


def make_events(
    leads: pd.DataFrame, *, per_lead: int, days: float = 150.0, seed: int = 0
) -> pd.DataFrame:
    """Random events on every channel after each lead's creation, sorted by time."""
    rng = np.random.default_rng(seed)
    n = len(leads) * per_lead
    lead_ids = np.repeat(leads["lead_id"].to_numpy(), per_lead)
    created = np.repeat(leads["created_at"].to_numpy(), per_lead)
    offsets = pd.to_timedelta(np.round(rng.uniform(0, days, n) * 86400), unit="s")
    types = rng.choice(EVENT_TYPES, n)
    values = np.where(types == "purchase", rng.uniform(10, 500, n).round(2), np.nan)
    values[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame(
        {
            "lead_id": lead_ids,
            "type": pd.array(types, dtype="str"),
            "channel": pd.array(rng.choice(CHANNELS, n), dtype="str"),
            "occurred_at": pd.to_datetime(created, utc=True) + offsets,
            "value": values,
            "marketing": (types == "sent") & (rng.random(n) < 0.8),
        }
    )
    return frame.sort_values("occurred_at", kind="stable").reset_index(drop=True)


def insert_into_store(session: object, leads: pd.DataFrame, events: pd.DataFrame) -> None:
    """Write synthetic frames into the store's leads and events tables (ids are kept)."""
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from optimizer.store.models import Event, Lead

    assert isinstance(session, Session)
    lead_rows = [
        {
            "id": int(r.lead_id),
            "external_id": f"ext-{int(r.lead_id)}",
            "phone_e164": f"+1305555{int(r.lead_id):04d}",
            "state": None if pd.isna(r.state) else r.state,
            "timezone": r.timezone,
            "attributes": r.attributes or {},
            "source": None if pd.isna(r.source) else r.source,
            "vertical": None if pd.isna(r.vertical) else r.vertical,
            "created_at": r.created_at.to_pydatetime(),
            "updated_at": r.created_at.to_pydatetime(),
        }
        for r in leads.itertuples()
    ]
    session.execute(insert(Lead), lead_rows)
    event_rows = [
        {
            "idempotency_key": f"ev-{i}",
            "lead_id": int(r.lead_id),
            "type": r.type,
            "channel": r.channel,
            "occurred_at": r.occurred_at.to_pydatetime(),
            "recorded_at": r.occurred_at.to_pydatetime(),
            "value": None if pd.isna(r.value) else float(r.value),
            "marketing": bool(r.marketing),
        }
        for i, r in enumerate(events.itertuples())
    ]
    if event_rows:
        session.execute(insert(Event), event_rows)
