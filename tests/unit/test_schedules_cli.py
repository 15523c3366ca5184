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


def run_validate(*args: str, root: Path) -> Result:
    """Run ``run.py validate ...`` in this process for the project at ``root``."""
    result = CliRunner().invoke(app, ["validate", *args, "--project", str(root)], terminal_width=200)
    return Result(result.exit_code, result.output)


def test_validate_checks_the_schedules_with_the_workflows(tmp_path: Path) -> None:
    root = project(tmp_path)
    clean = run_validate(root=root)
    assert (clean.returncode, clean.stdout.strip()) == (0, "no problems found")
    broken = root / "schedules" / "nightly.yaml"
    write(broken, SCHEDULE.replace("address_change", "adress_change").replace("in/changes", "in/gone"))
    result = run_validate(root=root)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"{broken}:2:1: no workflow named 'adress_change'" in lines
    assert "    hint: did you mean 'address_change'?" in lines
    assert f"{broken}:6:3: source file {root / 'in' / 'gone.csv'} does not exist" in lines
    assert "    hint: put the file there or correct source.file (relative to the project folder)" in lines
    assert lines[-1] == "2 problems"


def test_validate_reports_bad_timing_and_calendars_all_at_once(tmp_path: Path) -> None:
    root = project(tmp_path)
    broken = write(
        root / "schedules" / "nightly.yaml",
        SCHEDULE.replace('"30 2 * * 1-5"', '"30 25 * * 1-5"')
        .replace("Europe/Berlin", "Europe/Berln\n    calendar: {country: XX}")
        .replace("address_change", "no_such_flow"),
    )
    result = run_validate(root=root)
    assert result.returncode == 1
    out = result.stdout
    assert f"{broken}:2:1: no workflow named 'no_such_flow'" in out
    assert f"{broken}:3:1: cron '30 25 * * 1-5': " in out and "hint: minute hour day month weekday" in out
    assert f"{broken}:4:1: timezone: unknown time zone 'Europe/Berln'" in out
    assert f"{broken}:5:12: calendar.country: no holiday calendar for country 'XX'" in out
    assert out.splitlines()[-1] == "4 problems"
    # The scheduler's own validate command checks the same way.
    same = cli("validate", root=root)
    assert same.returncode == 1 and "4 problems" in same.stdout


def test_validate_checks_the_folder_of_a_file_named_by_the_fire_date(tmp_path: Path) -> None:
    root = project(tmp_path)
    dated = SCHEDULE.replace("in/changes.csv", '"drops/{fire:%Y-%m-%d}.csv"')
    broken = write(root / "schedules" / "nightly.yaml", dated)
    result = run_validate(root=root)
    assert result.returncode == 1
    folder = root / "drops"
    assert (
        f"{broken}:6:3: the folder {folder} of source file 'drops/{{fire:%Y-%m-%d}}.csv' does not exist"
    ) in result.stdout
    folder.mkdir()  # today's file need not be there yet: it is read at fire time
    assert run_validate(root=root).returncode == 0
    write(broken, dated.replace("{fire:", "{day:"))
    result = run_validate(root=root)
    assert result.returncode == 1
    assert "has a bad placeholder ('day'); the only one is {fire}" in result.stdout


def test_files_given_are_told_apart_by_folder_or_by_their_keys(tmp_path: Path) -> None:
    root = project(tmp_path)
    # A schedule drafted outside schedules/: a mapping with `workflow:` and no `steps:`.
    draft = write(tmp_path / "drafts" / "weekly.yaml", SCHEDULE.replace("30 2 * * 1-5", "0 3 * * 1"))
    workflow = write(tmp_path / "drafts" / "flow.yaml", "name: flow\nsteps:\n  - core.lgo: hi\n")
    in_folder = write(root / "schedules" / "odd.yaml", "name: odd\nworkflow: address_change\nsteps: []\n")
    result = run_validate(str(draft), str(workflow), str(root / "schedules"), str(in_folder), root=root)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"{workflow}:3:5: unknown action 'core.lgo'" in lines
    # Under schedules/ the folder decides: `steps` is an unknown key of a schedule there,
    # and the file named twice (folder and file) is reported once.
    assert (
        sum(line.startswith(f"{in_folder}:3:1: unknown key 'steps' in the schedule") for line in lines) == 1
    )
    assert not any(line.startswith(str(draft)) for line in lines)
    # Both drafts named "nightly": the second file with the name is reported.
    assert any("schedule name 'nightly' is already used by" in line for line in lines)


def test_list_shows_long_names_whole_on_a_narrow_terminal(tmp_path: Path) -> None:
    root = project(tmp_path)
    long_name = "nightly_address_changes_from_the_paper_forms_of_the_branches"
    write(root / "schedules" / "nightly.yaml", SCHEDULE.replace("name: nightly", f"name: {long_name}"))
    result = CliRunner().invoke(app, ["schedules", "list", "--project", str(root)], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    first_column = "".join(
        line.split("│")[1].strip() for line in result.output.splitlines() if line.startswith("│")
    )
    assert first_column.startswith(long_name)


def test_run_now_prints_in_tandems_log_format_only(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    root = project(tmp_path)
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "schedules", "run-now", "nightly"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert "done - 2 rows: 1 created" in result.stdout
    assert "| INFO" not in result.stdout + result.stderr  # loguru's own format, not Tandem's
