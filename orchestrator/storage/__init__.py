"""Storage: the database under every orchestrator service.

Owns: opening a database and its settings (SQLite WAL, PostgreSQL pools) and running the
Alembic migrations on open (``db``), the tables (``tables``), the migrations
(``migrations/``), and the store base class with transactions and the case audit trail
(``base``).

May import: ``orchestrator.errors``, ``orchestrator.models`` and ``robots``. Only the
services above it (humans, queue, schedules) use it; the control room and the worker
reach the database through them.
"""
