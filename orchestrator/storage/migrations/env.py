"""Alembic's entry point for the orchestrator's migrations (run by ``orchestrator.storage.db.migrate``)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from orchestrator.storage.tables import Base

# An arbitrary constant: the PostgreSQL advisory lock that serialises migrations of
# processes starting at the same moment (robots on several machines).
MIGRATION_LOCK = 7_301_455_002

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Migrate through the engine handed over in ``config.attributes`` (or one from the URL)."""
    engine = config.attributes.get("engine")
    if engine is None:  # the alembic command line: the same URL the orchestrator would use
        from orchestrator.storage.db import create_engine

        engine = create_engine()
    with engine.connect() as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
