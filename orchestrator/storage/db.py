"""Opening the database: the URL, SQLite's settings, and migrations applied on open.

SQLite (WAL) is the embedded default at ``tandem.db`` in the project's data folder
(``robots.language.project_paths``); ``TANDEM_DATABASE_URL`` (or the
``url`` argument) points elsewhere, e.g. ``postgresql+psycopg://user@host/db`` for robots
on many machines. The schema is created and upgraded by the Alembic migrations in
``orchestrator/storage/migrations`` whenever a database is opened, under a lock so that many
processes starting at once migrate it exactly once.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

if TYPE_CHECKING:  # Alembic is imported only when migrating: robots skip it and start faster
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else ``TANDEM_DATABASE_URL``, else ``tandem.db`` in the
    project's data folder (``<TANDEM_HOME>/.tandem`` or ``TANDEM_DATA_DIR``)."""
    from robots.language.project_paths import default_database_url

    return url or os.environ.get("TANDEM_DATABASE_URL") or default_database_url()


def is_sqlite(engine: sa.Engine) -> bool:
    """Whether the engine talks to SQLite (which locks the whole file instead of rows)."""
    return engine.dialect.name == "sqlite"


_HOLDING = threading.local()


class WriterConnection(sqlite3.Connection):
    """A SQLite connection that holds an OS file lock from ``BEGIN`` to ``COMMIT``/``ROLLBACK``.

    SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps in
    growing steps (up to 100 ms) and is not woken when the lock frees. Four robots claiming
    cases, or an API writing from many threads, then spend much of their time asleep while
    the database is free. Taking ``flock`` on ``<database>-writer`` first queues them in the
    kernel instead: the next writer runs the moment the previous one commits, whichever
    process or thread it is in. SQLite's own locking still guards the data.
    """

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._lock_fd = os.open(f"{database}-writer", os.O_RDWR | os.O_CREAT, 0o644)
        self._locked = False

    def lock(self) -> None:
        """Wait for the write lock (call before ``BEGIN IMMEDIATE``)."""
        if getattr(_HOLDING, "connection", None) not in (None, self):
            # Today's code never nests write transactions in one thread; if it did, it
            # would wait for itself for ever: say so instead.
            raise RuntimeError(
                "a second SQLite write transaction was opened in a thread that already has one: "
                "it would wait for itself; finish the first transaction before starting another"
            )
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._locked = True
        _HOLDING.connection = self

    def begin_immediate(self) -> None:
        """Wait for the write lock, then ``BEGIN IMMEDIATE`` (the lock is given back if that fails)."""
        self.lock()
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.unlock()
            raise

    def unlock(self) -> None:
        if self._locked:
            self._locked = False
            _HOLDING.connection = None
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.unlock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.unlock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.unlock()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1


def create_engine(url: str | None = None, *, pool_size: int = 5) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and immediate write transactions.

    Its errors never carry the statement's parameters (``hide_parameters``): they hold
    payloads with personal data, and an error's text ends up in logs and on stderr.
    """
    resolved = make_url(database_url(url))
    if resolved.get_backend_name() == "sqlite":
        if resolved.database in (None, "", ":memory:"):
            raise ValueError(
                "an in-memory SQLite database cannot be shared by robots and the API; "
                "use a file, e.g. sqlite:///tandem.db"
            )
        Path(resolved.database or "tandem.db").parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            resolved,
            hide_parameters=True,
            connect_args={
                "check_same_thread": False,
                "timeout": 60,
                "isolation_level": None,
                "factory": WriterConnection,
            },
            pool_size=pool_size,
        )

        @sa.event.listens_for(engine, "connect")
        def _configure(connection: Any, record: Any) -> None:
            _use_wal(connection)
            cursor = connection.cursor()
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        # Every transaction takes the write lock at its start: a deferred transaction that
        # reads and then writes can fail with "database is locked" when another writer got
        # in between, an immediate one just waits its turn (busy_timeout).
        # Writers queue on WriterConnection's file lock first (woken at once), then SQLite's.
        @sa.event.listens_for(engine, "begin")
        def _begin(connection: sa.Connection) -> None:
            driver = connection.connection.driver_connection
            assert isinstance(driver, WriterConnection)
            driver.begin_immediate()

        return engine
    return sa.create_engine(
        resolved, pool_size=pool_size, max_overflow=10, pool_pre_ping=True, hide_parameters=True
    )


def _use_wal(connection: sqlite3.Connection, patience: float = 60.0) -> None:
    """Switch the database to WAL, waiting for the other processes that open it.

    Several processes opening a fresh database at once (robots starting together) all try to
    switch it; SQLite answers "database is locked" at once to all but one instead of waiting
    in its busy handler, so this tries again for up to ``patience`` seconds.
    """
    deadline = time.monotonic() + patience
    delay = 0.01
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL").close()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def alembic_config(engine: sa.Engine) -> Config:
    """An Alembic configuration for this package's migrations, bound to ``engine``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is there already)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")
