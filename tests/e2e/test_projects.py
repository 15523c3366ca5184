"""A project of one's own: ``run.py init`` makes one that validates and runs as created."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo.server import DemoApps
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def tandem(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )


def test_a_new_project_validates_and_runs_against_the_demo_crm(
    demo: DemoApps, robot_env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TANDEM_HOME", "TANDEM_DATA_DIR")}
    env.update({**robot_env, "COLUMNS": "200"})
    env.pop("TANDEM_HOME")  # the project is the folder the command runs in
    created = tandem("init", "shop", cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stderr
    home = tmp_path / "shop"
    assert ".tandem/" in (home / ".gitignore").read_text()

    checked = tandem("validate", cwd=home, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no problems found" in checked.stdout

    ran = tandem("run", "customer_check", "-i", "customer_id=C000007", "--json", cwd=home, env=env)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    record = json.loads(ran.stdout)
    assert record["outputs"] == {"customer": "Emma Schulz", "segment": "A", "tier": "gold"}
    # Its log is in the project's data folder, not in Tandem's checkout.
    assert (home / ".tandem" / "logs" / "tandem.jsonl").exists()

    again = tandem("init", str(home), cwd=tmp_path, env=env)
    assert again.returncode == 2 and "already is a project" in again.stderr
