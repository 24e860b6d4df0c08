"""UPDATE and DELETE on append-only tables are refused by the database itself."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from optimizer.store.models import APPEND_ONLY_TABLES

NOW = "2026-01-05 15:00:00"


def _seed(engine: Engine) -> None:
    ts = dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC)
    rows = {
        "leads": "INSERT INTO leads (id, external_id, phone_e164, attributes, created_at, updated_at)"
        " VALUES (1, 'L1', '+13055550142', '{}', :ts, :ts)",
        "lead_changes": "INSERT INTO lead_changes (lead_id, changed_at, changes) VALUES (1, :ts, '{}')",
        "consents": "INSERT INTO consents (kind, lead_id, phone_e164, occurred_at, recorded_at)"
        " VALUES ('grant', 1, '+13055550142', :ts, :ts)",
        "suppressions": "INSERT INTO suppressions (phone_e164, action, reason, source, created_at)"
        " VALUES ('+13055550142', 'suppress', 'opt_out', 'test', :ts)",
        "events": "INSERT INTO events (idempotency_key, lead_id, type, channel, occurred_at,"
        " recorded_at, marketing) VALUES ('k1', 1, 'sent', 'sms', :ts, :ts, true)",
        "decisions": "INSERT INTO decisions (id, lead_id, created_at, as_of, action, reasons, allowed,"
        " compliance, model_versions, first_in_sequence, explanation) VALUES ('d1', 1, :ts, :ts,"
        " 'send_now', '[]', true, '{}', '{}', false, '{}')",
        "decision_confirmations": "INSERT INTO decision_confirmations (decision_id, confirmed_at,"
        " allowed, reasons) VALUES ('d1', :ts, true, '[]')",
        "decision_rewards": "INSERT INTO decision_rewards (decision_id, metric, reward, kind,"
        " recorded_at) VALUES ('d1', 'reply', 1.0, 'outcome', :ts)",
    }
    with engine.begin() as conn:
        for sql in rows.values():
            conn.execute(text(sql), {"ts": ts})


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_update_and_delete_rejected(any_engine: Engine, table: str) -> None:
    _seed(any_engine)
    with any_engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1
    column = {"decisions": "action", "decision_rewards": "metric"}.get(table, "id")
    value = "'x'" if column != "id" else "id + 100"
    for sql in (f"UPDATE {table} SET {column} = {value}", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"), any_engine.begin() as conn:
            conn.execute(text(sql))
    with any_engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1


def test_insert_still_allowed(any_engine: Engine) -> None:
    _seed(any_engine)
    with any_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO suppressions (phone_e164, action, reason, source, created_at)"
                " VALUES ('+13055550142', 'reverse', 'resubscribed', 'test', :ts)"
            ),
            {"ts": dt.datetime(2026, 1, 6, tzinfo=dt.UTC)},
        )
        assert conn.execute(text("SELECT count(*) FROM suppressions")).scalar_one() == 2
