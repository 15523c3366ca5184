"""A robot killed after the grace period is not left 'busy' in the robots table."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.service import Orchestrator
from robots.language.project import Project
from tests.conftest import ROOT, write

SLOW = """
name: slow
input: {}
steps:
  - core.sleep: 120s
"""

_WORKER = """
import sys
from pathlib import Path
from orchestrator.worker.supervisor import WorkerSettings, run_worker
settings = WorkerSettings(
    robots=1, url=sys.argv[1], project_root=Path(sys.argv[2]), grace_seconds=1.0,
    lease_seconds=30.0, name="grace-test", poll_seconds=0.2, log_dir=Path(sys.argv[2]) / "logs",
)
sys.exit(run_worker(settings))
"""


def _robots(store: Orchestrator) -> dict[str, str]:
    return {robot.id: robot.status for robot in store.list_robots() if robot.id.startswith("grace-test#")}


def test_a_robot_killed_after_the_grace_period_is_recorded_as_stopped(
    database_url: str, tmp_path: Path
) -> None:
    write(tmp_path / "workflows" / "slow.yaml", SLOW)
    (tmp_path / "business_rules").mkdir()
    store = Orchestrator(database_url, project=Project(tmp_path))
    try:
        store.create_case("slow", f"slow-{tmp_path.name}", {})
        worker = subprocess.Popen(
            [sys.executable, "-c", _WORKER, database_url, str(tmp_path)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while _robots(store).get("grace-test#1") != "busy":
                assert time.monotonic() < deadline, f"the robot never got busy: {_robots(store)}"
                assert worker.poll() is None, worker.stderr.read().decode()[-2000:] if worker.stderr else ""
                time.sleep(0.2)
            os.kill(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert _robots(store) == {"grace-test#1": "stopped"}
    finally:
        store.close()
