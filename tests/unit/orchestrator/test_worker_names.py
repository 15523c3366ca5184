"""Robot ids: two workers on one machine must not run robots under the same ids."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.service import Orchestrator
from orchestrator.worker.supervisor import WorkerSettings, _ids_in_use, run_worker
from tests.conftest import ROOT


@pytest.fixture
def store(tmp_path: Path) -> Orchestrator:
    return Orchestrator(f"sqlite:///{tmp_path / 'tandem.db'}")


def test_ids_a_live_worker_on_this_machine_uses_are_in_use(store: Orchestrator, tmp_path: Path) -> None:
    settings = WorkerSettings(robots=2, url=str(store.engine.url), name="desk", log_dir=tmp_path)
    host = socket.gethostname()
    store.register_robot("desk#1", host=host, pid=os.getpid())  # alive: this process
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.register_robot("desk#2", host=host, pid=dead.pid)  # its process is gone: free again
    store.register_robot("other#1", host=host, pid=os.getpid())  # another name
    assert _ids_in_use(store, settings) == [f"desk#1 (pid {os.getpid()})"]


def test_a_worker_whose_ids_are_taken_refuses_to_start(store: Orchestrator, tmp_path: Path) -> None:
    store.register_robot("desk#1", host=socket.gethostname(), pid=os.getpid())
    settings = WorkerSettings(
        robots=1, url=str(store.engine.url), name="desk", log_dir=tmp_path, project_root=ROOT
    )
    assert run_worker(settings) == 2
    assert [r.id for r in store.list_robots()] == ["desk#1"]  # nothing else started


def test_a_name_with_a_hash_is_refused() -> None:
    with pytest.raises(ValueError, match="without '#'"):
        WorkerSettings(name="a#b")
