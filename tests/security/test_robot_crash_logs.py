"""A robot that crashes on a database error prints no SQL parameters (personal data)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestrator.service import Orchestrator
from robots.language.project import Project
from tests.conftest import ROOT, write

PERSONAL = "Erika Mustermann, Heidestraße 17"

NOOP = """
name: noop
input:
  customer: {type: string, personal: true}
steps:
  - set: {x: 1}
"""

_ROBOT = """
import sys
from pathlib import Path
import sqlalchemy as sa
from orchestrator.worker import execution
from orchestrator.worker.supervisor import WorkerSettings, robot_main

def crash(orchestrator, engine, claim, **options):
    # What a robot does when a write fails: the statement carries the case's personal data.
    with orchestrator.engine.begin() as connection:
        statement = sa.text("UPDATE no_such_table SET customer = :customer")
        connection.execute(statement, {"customer": claim.case.payload["customer"]})

execution.run_claim_and_claim_next = crash
root = Path(sys.argv[2])
robot_main(1, WorkerSettings(url=sys.argv[1], project_root=root, name="crash-test", log_dir=root / "logs"))
"""


def test_a_robot_crash_prints_no_sql_parameters(database_url: str, tmp_path: Path) -> None:
    write(tmp_path / "workflows" / "noop.yaml", NOOP)
    (tmp_path / "business_rules").mkdir()
    store = Orchestrator(database_url, project=Project(tmp_path))
    try:
        store.create_case("noop", f"crash-{tmp_path.name}", {"customer": PERSONAL})
    finally:
        store.close()
    done = subprocess.run(
        [sys.executable, "-c", _ROBOT, database_url, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    logs = "".join(path.read_text(encoding="utf-8") for path in (tmp_path / "logs").glob("*"))
    everything = done.stdout + done.stderr + logs
    assert done.returncode == 1, everything[-3000:]
    assert "crashed" in everything and "no_such_table" in everything, everything[-3000:]
    assert PERSONAL not in everything, everything[-3000:]
