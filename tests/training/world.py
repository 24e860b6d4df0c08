"""A small synthetic event log with signal: engaged leads convert more after a marketing send."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from tests.features.factories import START, make_leads

END = START + dt.timedelta(days=180)


def make_world(n_leads: int = 300, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(leads, events): engagement rate and conversion chance both grow with a hidden affinity."""
    rng = np.random.default_rng(seed)
    leads = make_leads(n_leads, seed=seed)
    rows: list[tuple[int, str, str, dt.datetime, float, bool]] = []
    for lead_id, created in zip(leads["lead_id"], leads["created_at"], strict=True):
        affinity = rng.beta(1.2, 3.0)
        start = created.to_pydatetime()
        for _ in range(rng.poisson(1 + 12 * affinity)):
            at = start + dt.timedelta(hours=float(rng.uniform(0, 170 * 24)))
            kind = rng.choice(["click", "reply", "email_open", "visit", "webchat"])
            channel = {"email_open": "email", "webchat": "webchat"}.get(kind, "sms")
            rows.append((int(lead_id), str(kind), channel, at, np.nan, False))
        send_at = start + dt.timedelta(days=float(rng.uniform(1, 10)))
        while send_at < END:
            rows.append((int(lead_id), "sent", "sms", send_at, np.nan, True))
            if rng.random() < 0.03 + 0.5 * affinity**1.5:
                converted = send_at + dt.timedelta(days=float(rng.uniform(0.1, 10)))
                rows.append((int(lead_id), "conversion", "sms", converted, np.nan, False))
                rows.append(
                    (
                        int(lead_id),
                        "purchase",
                        "webchat",
                        converted,
                        float(rng.uniform(50, 500)),
                        False,
                    )
                )
            send_at += dt.timedelta(days=float(rng.uniform(12, 30)))
    events = pd.DataFrame(
        rows, columns=["lead_id", "type", "channel", "occurred_at", "value", "marketing"]
    )
    events["occurred_at"] = pd.to_datetime(events["occurred_at"], utc=True).dt.round("s")
    events["type"] = events["type"].astype("str")
    events["channel"] = events["channel"].astype("str")
    return leads, events.sort_values("occurred_at", kind="stable").reset_index(drop=True)
