"""A batch run that finishes: ``worker --drain`` waits for retries and dead robots' cases;
``--once`` says what it leaves behind; both say what waits for a person."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestrator.service import Orchestrator
from robots.language.project import Project
from tests.conftest import ROOT, write


def worker(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "worker", *args],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
    )


def test_once_leaves_retries_and_dead_robots_cases_and_drain_finishes_them(tmp_path: Path) -> None:
    write(
        tmp_path / "workflows" / "numbers.yaml",
        """
        name: numbers
        input:
          n: {type: integer}
        steps:
          - escalate:
              when: "{{ input.n == 2 }}"
              queue: review
              reason: "number {{ input.n }} needs a look"
          - output: {double: "{{ input.n * 2 }}"}
        """,
    )
    store = Orchestrator(f"sqlite:///{tmp_path / '.tandem' / 'tandem.db'}", project=Project(tmp_path))
    abandoned = store.create_case("numbers", "ref-1", {"n": 1})[0]
    # A robot that then died; its lease and the retry time outlast a slow start of --once.
    claim = store.claim_next_case("gone#1", lease_seconds=20)
    assert claim is not None and claim.case.id == abandoned.id
    later = store.create_case(
        "numbers", "ref-3", {"n": 3}, not_before=datetime.now(UTC) + timedelta(seconds=20)
    )[0]
    store.create_case("numbers", "ref-2", {"n": 2})

    once = worker(tmp_path, "--once")
    assert once.returncode == 0, once.stderr
    assert "stopped with cases left: 1 due for a retry" in once.stderr
    assert "1 held by a robot" in once.stderr or "1 running" in once.stderr
    assert "1 case waiting for a person (queues: review 1)" in once.stderr

    drained = worker(tmp_path, "--drain")
    assert drained.returncode == 0, drained.stderr
    assert "drained: no case is queued or running" in drained.stderr
    assert "1 case waiting for a person (queues: review 1)" in drained.stderr
    assert {store.get_case(case.id).status for case in (abandoned, later)} == {"done"}
    again = worker(tmp_path, "--once")  # nothing left: it says so, not only "after 0 cases"
    assert "worker: done: no case is queued or running" in again.stderr, again.stderr
    store.close()


def test_once_and_drain_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "workflows").mkdir()
    result = worker(tmp_path, "--once", "--drain")
    assert result.returncode == 2 and "give one" in result.stderr
