"""``run.py schedules ...`` as an operator meets it: exit codes and what it prints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from run import app
from tests.conftest import write

WORKFLOW = """
    name: address_change
    input:
      customer_id: {type: string, pattern: "C[0-9]{6}"}
      postal_code: {type: string, pattern: "[0-9]{5}"}
    steps:
      - set: {x: 1}
    """

SCHEDULE = """
    name: nightly
    workflow: address_change
    cron: "30 2 * * 1-5"
    timezone: Europe/Berlin
    source:
      file: in/changes.csv
      key: customer_id
    """


@dataclass
class Result:
    returncode: int
    stdout: str


def cli(*args: str, root: Path) -> Result:
    """Run ``run.py schedules ...`` in this process (a wide terminal, the project at ``root``)."""
    result = CliRunner().invoke(app, ["schedules", *args, "--project", str(root)], terminal_width=200)
    return Result(result.exit_code, result.output)


@pytest.fixture(autouse=True)
def _database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_DATABASE_URL", f"sqlite:///{tmp_path / 'tandem.db'}")
    monkeypatch.setenv("COLUMNS", "200")


def project(tmp_path: Path) -> Path:
    write(tmp_path / "workflows" / "address_change.yaml", WORKFLOW)
    write(tmp_path / "schedules" / "nightly.yaml", SCHEDULE)
    write(tmp_path / "in" / "changes.csv", "customer_id,postal_code\nC000001,80331\nC000002,123\n")
    (tmp_path / "business_rules").mkdir()
    return tmp_path


def test_validate_reports_located_problems(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert cli("validate", root=root).returncode == 0
    write(
        root / "schedules" / "nightly.yaml", SCHEDULE.replace("timezone: Europe/Berlin", "timezone: Berlin")
    )
    result = cli("validate", root=root)
    assert result.returncode == 1
    assert "nightly.yaml:4:1: timezone: unknown time zone 'Berlin'" in result.stdout


def test_run_now_list_and_pause(tmp_path: Path) -> None:
    root = project(tmp_path)
    fired = cli("run-now", "nightly", root=root)
    assert fired.returncode == 0, fired.stdout + fired.stderr
    assert "done - 2 rows: 1 created, 0 already existed, 1 rejected" in fired.stdout
    assert "rejected line 3 (key C000002): postal_code" in fired.stdout
    assert cli("pause", "nightly", "--by", "ops:anna", root=root).returncode == 0
    listed = cli("list", root=root)
    assert "nightly" in listed.stdout and "paused" in listed.stdout
    assert "1 new, 0 existed, 1 rejected" in listed.stdout
    shown = cli("show", "nightly", root=root)
    assert shown.returncode == 0
    assert "rejected line 3 (key C000002): postal_code" in shown.stdout
    unknown = cli("run-now", "nighty", root=root)
    assert unknown.returncode == 2
    assert "did you mean 'nightly'" in unknown.stdout
