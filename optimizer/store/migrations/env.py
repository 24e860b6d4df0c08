"""Alembic environment: runs on the engine passed in by ``optimizer.store.db.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from optimizer.store.models import Base

engine = context.config.attributes["engine"]

# An arbitrary constant: the advisory lock that serialises migrating processes on PostgreSQL.
MIGRATION_LOCK_ID = 7_318_405_112

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
