"""Rows with extreme timestamps already in the append-only ledger (written before validation
existed, or by another writer) do not break the endpoints that read them for good."""

from __future__ import annotations

import datetime as dt

import pytest

from optimizer.store.db import make_engine, session_factory, transaction
from optimizer.store.models import Event
from tests.api.conftest import LiveServer
from tests.api.helpers import TEMPLATE, iso, new_lead

NOW = dt.datetime(2026, 11, 17, 19, 0, tzinfo=dt.UTC)
FAR_FUTURE = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
FAR_PAST = dt.datetime(1, 1, 1, 0, 0, 0, tzinfo=dt.UTC)


def _insert_event(server: LiveServer, lead_id: int, occurred_at: dt.datetime, key: str) -> None:
    """Straight into the store, past the API's validation."""
    engine = make_engine(server.settings.resolved_database_url())
    try:
        with transaction(session_factory(engine)) as session:
            session.add(
                Event(
                    idempotency_key=key,
                    lead_id=lead_id,
                    type="reply",
                    channel="sms",
                    occurred_at=occurred_at,
                    recorded_at=NOW,
                    text="yes",
                    marketing=False,
                )
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("moment", [FAR_FUTURE, FAR_PAST], ids=["9999", "0001"])
def test_reports_and_health_page_survive_an_extreme_event(
    live_server: LiveServer, moment: dt.datetime
) -> None:
    with live_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0160", created_at=NOW)
        _insert_event(live_server, lead["id"], moment, f"odd-{moment.year}")
        for path in (
            "/v1/reports/health",
            "/v1/reports/segments",
            "/v1/reports/attribution",
            f"/v1/reports/leads/{lead['id']}",
            f"/v1/leads/{lead['id']}/timeline",
        ):
            response = client.get(path)
            assert response.status_code == 200, (path, response.text)
        client.cookies.set("optimizer_key", live_server.keys["admin"])
        page = client.get("/ui/health")
        assert page.status_code == 200, page.text[:500]


@pytest.mark.parametrize("moment", [FAR_FUTURE, FAR_PAST], ids=["9999", "0001"])
def test_decisions_survive_an_extreme_event(live_server: LiveServer, moment: dt.datetime) -> None:
    with live_server.client() as client:
        lead = new_lead(client, phone="(212) 555-0161", created_at=NOW)
        other = new_lead(client, phone="(212) 555-0162", created_at=NOW)
        _insert_event(live_server, lead["id"], moment, f"odd-{moment.year}")
        as_of = NOW + dt.timedelta(minutes=5)
        one = client.post(
            "/v1/next-best-action",
            json={"lead_id": lead["id"], "template": TEMPLATE, "as_of": iso(as_of)},
        )
        assert one.status_code == 200, one.text
        assert one.json()["action"] in ("send_now", "send_at", "hold", "suppress")
        batch = client.post(
            "/v1/next-best-action/batch",
            json={
                "lead_ids": [lead["id"], other["id"]],
                "capacity": 2,
                "template": TEMPLATE,
                "as_of": iso(as_of),
            },
        )
        assert batch.status_code == 200, batch.text
        assert batch.json()["considered"] == 2
