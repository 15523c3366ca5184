"""Alembic's entry point for the orchestrator's migrations (run by ``orchestrator.storage.db.migrate``)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

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
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite" and _behind(connection)
        if sqlite:
            # SQLite's way to rebuild a table (batch mode) that other tables point at: foreign
            # keys off during the migration, checked afterwards. The switch works only outside
            # a transaction, hence on the driver's connection before ours begins.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            _migrate(connection)
        finally:
            if sqlite:
                driver = connection.connection.driver_connection
                driver.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
                broken = driver.execute("PRAGMA foreign_key_check").fetchall()  # type: ignore[union-attr]
                if broken:
                    raise RuntimeError(
                        f"the migration left rows whose foreign keys point nowhere: {broken[:5]}"
                    )


def _behind(connection: sa.Connection) -> bool:
    """Whether the database lacks a migration (the read's transaction is ended again)."""
    head = ScriptDirectory.from_config(config).get_current_head()
    try:
        return MigrationContext.configure(connection).get_current_revision() != head
    finally:
        connection.rollback()


def _migrate(connection: sa.Connection) -> None:
    """Run the migrations in one transaction (under a lock on PostgreSQL)."""
    with connection.begin():
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
