"""append-only guard against replacing inserts; UI sessions

SQLite's ``INSERT OR REPLACE`` (and a column's ``ON CONFLICT REPLACE``) deletes the row it
conflicts with without firing its DELETE trigger, so an append-only row could be rewritten
(a suppression turned into a reversal, a revocation into a grant). A BEFORE INSERT trigger on
each append-only table refuses a row whose primary key or any unique key is already there,
whatever the conflict clause. ``RAISE(ABORT, ...)`` is a constraint failure
(``sqlite3.IntegrityError``), like the duplicate key it stands for, so callers that expect an
IntegrityError for a replayed key (the idempotent event insert) see the same error class.

PostgreSQL has no replacing insert: ``INSERT ... ON CONFLICT DO UPDATE`` fires the row's BEFORE
UPDATE trigger, which 0001 already makes refuse; nothing to add there.

``ui_sessions``: a UI login is a random token kept only as its SHA-256, with an expiry, bound
to the API key that opened it (a revoked key ends its sessions).

Revision ID: 0002_append_only_guard_sessions
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_append_only_guard_sessions"
down_revision = "0001"
branch_labels = None
depends_on = None

# Table -> its keys (primary key first, then every unique key), each a tuple of columns.
APPEND_ONLY_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "consents": (("id",),),
    "suppressions": (("id",),),
    "events": (("id",), ("idempotency_key",)),
    "decisions": (("id",),),
    "decision_confirmations": (("id",), ("decision_id",)),
    "decision_rewards": (("id",), ("decision_id", "metric")),
    "lead_changes": (("id",),),
}


def _exists(table: str, columns: tuple[str, ...]) -> str:
    match = " AND ".join(f"{c} = NEW.{c}" for c in columns)
    return f"EXISTS (SELECT 1 FROM {table} WHERE {match})"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, keys in APPEND_ONLY_KEYS.items():
            condition = " OR ".join(_exists(table, key) for key in keys)
            op.execute(
                f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                f"WHEN {condition} "
                f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: a row with this key "
                "exists (UNIQUE constraint failed; replacing it is not allowed)'); END"
            )
    op.create_table(
        "ui_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_ui_sessions_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ui_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_ui_sessions_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("ui_sessions")
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY_KEYS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
