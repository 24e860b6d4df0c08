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
        "provider_messages": "INSERT INTO provider_messages (provider, provider_message_id, kind,"
        " status, decision_id, received_at) VALUES ('twilio', 'SM1', 'status', 'sent', 'd1', :ts)",
        "experiments": "INSERT INTO experiments (id, name, metric, policy, policy_params, status,"
        " attribution_hours, seed, created_at) VALUES (1, 'e1', 'reply', 'thompson', '{}',"
        " 'running', 72, 0, :ts)",
        "policy_evaluations": "INSERT INTO policy_evaluations (experiment_id, policy, candidate,"
        " logging_policy, metric, rows, pending, current_value, current_low, current_high,"
        " estimates, effective_sample_size, max_weight, seed, resamples, evaluated_at)"
        " VALUES (1, 'uniform', '{}', 'thompson', 'reply', 10, 0, 0.2, 0.1, 0.3, '{}', 9.5, 1.2,"
        " 1, 100, :ts)",
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


# A replacing insert of each append-only table's seeded row: on its primary key, then on each
# unique key with a new primary key. SQLite's REPLACE deletes the old row without firing the
# DELETE trigger; an upsert (ON CONFLICT DO UPDATE) fires the UPDATE trigger on both backends.
_REPLACE_COLUMNS = {
    "consents": (
        "id, kind, lead_id, phone_e164, occurred_at, recorded_at",
        "1, 'revoke', 1, '+13055550142', :ts, :ts",
    ),
    "suppressions": (
        "id, phone_e164, action, reason, source, created_at",
        "1, '+13055550142', 'reverse', 'resubscribed', 'test', :ts",
    ),
    "events": (
        "id, idempotency_key, lead_id, type, channel, occurred_at, recorded_at, marketing",
        "1, 'k1', 1, 'reply', 'sms', :ts, :ts, true",
    ),
    "decisions": (
        "id, lead_id, created_at, as_of, action, reasons, allowed, compliance,"
        " model_versions, first_in_sequence, explanation",
        "'d1', 1, :ts, :ts, 'hold', '[]', false, '{}', '{}', false, '{}'",
    ),
    "decision_confirmations": (
        "id, decision_id, confirmed_at, allowed, reasons",
        "1, 'd1', :ts, false, '[]'",
    ),
    "decision_rewards": (
        "id, decision_id, metric, reward, kind, recorded_at",
        "1, 'd1', 'reply', 0.0, 'outcome', :ts",
    ),
    "lead_changes": ("id, lead_id, changed_at, changes", "1, 1, :ts, '{\"x\": 1}'"),
    "provider_messages": (
        "id, error_code, provider, provider_message_id, kind, status, received_at",
        "1, '21610', 'twilio', 'SM1', 'status', 'sent', :ts",
    ),
    "policy_evaluations": (
        "id, policy, experiment_id, candidate, logging_policy, metric, rows, pending,"
        " current_value, current_low, current_high, estimates, effective_sample_size,"
        " max_weight, seed, resamples, evaluated_at",
        "1, 'variant:A', 1, '{}', 'thompson', 'reply', 10, 0, 0.2, 0.1, 0.3, '{}', 9.5, 1.2,"
        " 1, 100, :ts",
    ),
}
# Unique keys other than the primary key: (conflict columns, the id to give the new row).
_UNIQUE_KEYS = {
    "events": "idempotency_key",
    "decision_confirmations": "decision_id",
    "decision_rewards": "decision_id, metric",
    "provider_messages": "provider, provider_message_id, kind, status",
}


def _rows(engine: Engine, table: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]


def _refused(engine: Engine, sql: str) -> None:
    with pytest.raises(DBAPIError, match="append-only|UNIQUE|duplicate"), engine.begin() as conn:
        conn.execute(text(sql), {"ts": dt.datetime(2026, 1, 7, tzinfo=dt.UTC)})


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_replacing_insert_rejected(any_engine: Engine, table: str) -> None:
    _seed(any_engine)
    before = _rows(any_engine, table)
    columns, values = _REPLACE_COLUMNS[table]
    first = columns.split(",")[0].strip()
    set_clause = f"{columns.split(',')[1].strip()} = excluded.{columns.split(',')[1].strip()}"
    statements = [
        f"INSERT INTO {table} ({columns}) VALUES ({values}) "
        f"ON CONFLICT ({first}) DO UPDATE SET {set_clause}"
    ]
    if any_engine.dialect.name == "sqlite":
        statements += [
            f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({values})",
            f"REPLACE INTO {table} ({columns}) VALUES ({values})",
        ]
    if table in _UNIQUE_KEYS:
        # Same unique key, a fresh primary key: the old row would be replaced through the
        # unique key alone.
        fresh = values.replace("1, ", "7, ", 1).replace("'d1', 1, ", "'d1', 1, ", 1)
        key = _UNIQUE_KEYS[table]
        statements.append(
            f"INSERT INTO {table} ({columns}) VALUES ({fresh}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {set_clause}"
        )
        if any_engine.dialect.name == "sqlite":
            statements.append(f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({fresh})")
    for sql in statements:
        _refused(any_engine, sql)
        assert _rows(any_engine, table) == before, sql


def test_replacing_insert_is_an_integrity_error_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The idempotent event insert relies on a duplicate key being an IntegrityError."""
    from sqlalchemy.exc import IntegrityError

    from optimizer.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    _seed(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (idempotency_key, lead_id, type, channel, occurred_at,"
                " recorded_at, marketing) VALUES ('k1', 1, 'sent', 'sms', :ts, :ts, true)"
            ),
            {"ts": dt.datetime(2026, 1, 7, tzinfo=dt.UTC)},
        )
    engine.dispose()
