"""Settings of the orchestrator and its worker: wrong values are refused with the fix."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from orchestrator.queue.cases import _problem
from orchestrator.service import Orchestrator
from orchestrator.storage.db import create_engine, database_url
from orchestrator.worker.supervisor import WorkerSettings


def test_the_database_url_comes_from_the_argument_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TANDEM_DATABASE_URL", raising=False)
    monkeypatch.delenv("TANDEM_DATA_DIR", raising=False)
    monkeypatch.setenv("TANDEM_HOME", str(tmp_path))
    assert database_url() == f"sqlite:///{tmp_path}/.tandem/tandem.db"  # the project's data folder
    monkeypatch.setenv("TANDEM_DATA_DIR", str(tmp_path / "elsewhere"))
    assert database_url() == f"sqlite:///{tmp_path}/elsewhere/tandem.db"
    monkeypatch.setenv("TANDEM_DATABASE_URL", "postgresql+psycopg://db/tandem")
    assert database_url() == "postgresql+psycopg://db/tandem"
    assert database_url("sqlite:///other.db") == "sqlite:///other.db"


def test_an_in_memory_sqlite_database_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"use a file, e\.g\. sqlite:///tandem\.db"):
        create_engine("sqlite://")


def test_worker_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="at least one robot"):
        WorkerSettings(robots=0)
    with pytest.raises(ValueError, match="cannot be kept alive"):
        WorkerSettings(lease_seconds=1)


def test_retry_settings_are_checked_and_backoff_doubles_up_to_the_cap(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="0 <= base <= max"):
        Orchestrator(
            f"sqlite:///{tmp_path / 'a.db'}", retry_base_seconds=10, retry_max_seconds=5, migrate=False
        )
    store = Orchestrator(
        f"sqlite:///{tmp_path / 'b.db'}", retry_base_seconds=10, retry_max_seconds=60, migrate=False
    )
    assert [store.backoff(n) for n in (1, 2, 3, 4, 5)] == [timedelta(seconds=s) for s in (10, 20, 40, 60, 60)]
    store.close()


def test_input_problems_become_field_and_message() -> None:
    assert _problem("input.street: String should have at least 3 characters") == (
        "street",
        "String should have at least 3 characters",
    )
    assert _problem("the input must be a mapping") == ("payload", "the input must be a mapping")


def test_customer_status_links_need_the_public_url_and_the_servers_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orchestrator.control_room.app import ServerSettings
    from orchestrator.humans.customer_links import CustomerLinks, status_path

    monkeypatch.delenv("TANDEM_PUBLIC_URL", raising=False)
    assert WorkerSettings().customer_links is None  # no public address: mails carry no link
    monkeypatch.setenv("TANDEM_PUBLIC_URL", "https://service.example.com/")
    monkeypatch.delenv("TANDEM_SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="TANDEM_SECRET_KEY is not: set it to the control room's key"):
        WorkerSettings()
    monkeypatch.setenv("TANDEM_SECRET_KEY", "the-servers-key-0123456789")
    links = WorkerSettings().customer_links
    assert links is not None and "the-servers-key" not in repr(links)
    assert links.status_url("c-1") == "https://service.example.com" + status_path(
        "the-servers-key-0123456789", "c-1"
    )
    with pytest.raises(
        ValueError, match=r"not an http\(s\) address: give it like https://service\.example\.com"
    ):
        CustomerLinks("the-servers-key-0123456789", "service.example.com")
    with pytest.raises(ValueError, match=r"not an http\(s\) address"):
        ServerSettings(public_url="ftp://service.example.com")
    assert (
        ServerSettings(public_url="https://service.example.com/").public_url == "https://service.example.com"
    )
