"""Opening a fresh SQLite database that another process holds: WAL is waited for."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from orchestrator.storage.db import _use_wal


def test_wal_is_waited_for_while_another_connection_holds_the_database(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    opener = sqlite3.connect(path, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        opener.execute("PRAGMA journal_mode=WAL")  # what a second process met at once
    threading.Timer(0.3, holder.rollback).start()

    _use_wal(opener, patience=10)

    assert opener.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_wal_gives_up_after_its_patience(tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    opener = sqlite3.connect(path, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _use_wal(opener, patience=0.2)
    holder.rollback()
