"""provider messages: what SMS providers' webhooks told us (append-only)

One row per fact a provider's webhook carries: an inbound message (kind ``inbound``), a
delivery status of a message we sent (kind ``status``, one row per status), or the provider's
id of the message a confirmed decision was sent as (kind ``outbound``, given at confirm). The
unique (provider, provider_message_id, kind, status) makes a webhook delivered twice count
once. Append-only like the ledgers of 0001, with 0002's guard against replacing inserts on
SQLite.

Revision ID: 0003
Revises: 0002_append_only_guard_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002_append_only_guard_sessions"
branch_labels = None
depends_on = None

TABLE = "provider_messages"
# The primary key, then the unique key.
KEYS: tuple[tuple[str, ...], ...] = (("id",), ("provider", "provider_message_id", "kind", "status"))


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_message_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("raw_status", sa.String(length=40), nullable=True),
        sa.Column("error_code", sa.String(length=20), nullable=True),
        sa.Column("phone_e164", sa.String(length=20), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("decision_id", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_provider_messages_lead_id_leads")
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_provider_messages_decision_id_decisions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_messages")),
        sa.UniqueConstraint(
            "provider",
            "provider_message_id",
            "kind",
            "status",
            name=op.f("uq_provider_messages_provider"),
        ),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(
            "ix_provider_messages_message", ["provider_message_id", "kind"], unique=False
        )
        batch_op.create_index("ix_provider_messages_decision", ["decision_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # optimizer_append_only() is 0001's.
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION optimizer_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION optimizer_append_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, 'append-only table {TABLE}: {operation} is not "
                "allowed'); END"
            )
        condition = " OR ".join(
            "EXISTS (SELECT 1 FROM {t} WHERE {m})".format(
                t=TABLE, m=" AND ".join(f"{c} = NEW.{c}" for c in key)
            )
            for key in KEYS
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_replace BEFORE INSERT ON {TABLE} "
            f"WHEN {condition} "
            f"BEGIN SELECT RAISE(ABORT, 'append-only table {TABLE}: a row with this key "
            "exists (UNIQUE constraint failed; replacing it is not allowed)'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}")
    else:
        for name in ("no_update", "no_delete", "no_replace"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{name}")
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index("ix_provider_messages_decision")
        batch_op.drop_index("ix_provider_messages_message")
    op.drop_table(TABLE)
