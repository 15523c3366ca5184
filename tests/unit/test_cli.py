"""run.py as a user meets it: exit codes and what it prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, write


def cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "TANDEM_HOME": str(ROOT),
            "TANDEM_DATA_DIR": os.environ["TANDEM_DATA_DIR"],  # set for the session (tests/conftest.py)
            "COLUMNS": "200",
            **(env or {}),
        },
    )


def test_validate_the_project() -> None:
    result = cli("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems found" in result.stdout


def test_validate_a_bad_file_lists_located_problems(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "name: bad\nsteps:\n  - core.lgo: hi\n  - set: {a: '{{ 1 + }}'}\n")
    result = cli("validate", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3:5: unknown action 'core.lgo'" in result.stdout
    assert "did you mean 'core.log'?" in result.stdout
    assert f"{bad}:4:" in result.stdout and "2 problems" in result.stdout


def test_reference_problems_are_listed_with_the_other_problems(tmp_path: Path) -> None:
    write(tmp_path / "business_rules" / ".keep", "")
    bad = write(
        tmp_path / "workflows" / "bad.yaml",
        """
        name: bad
        steps:
          - web.fil: {label: Street, value: x}
          - decide: no_such_table
            with: {a: 1}
          - call: no_such_flow
        """,
    )
    result = cli("validate", "--project", str(tmp_path), env={"COLUMNS": "60"})
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"{bad}:3:5: unknown action 'web.fil'" in lines
    assert f"{bad}:4:5: unknown rule table 'no_such_table'" in lines
    assert f"{bad}:6:5: call target 'no_such_flow' is not a workflow of this project" in lines
    assert "3 problems" in result.stdout


def test_schema_is_json_schema_of_steps_and_actions() -> None:
    result = cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "Tandem workflow"
    titles = {variant["title"] for variant in schema["$defs"]["ActionStep"]["anyOf"]}
    assert {"core.log", "web.fill", "desktop.click"} <= titles
    assert {"IfStep", "ForEachStep", "AwaitHumanStep"} <= set(schema["$defs"])


def test_actions_lists_every_action() -> None:
    result = cli("actions")
    assert result.returncode == 0
    for name in ("core.log", "web.fill", "web.expect", "desktop.type"):
        assert name in result.stdout


def test_run_prints_the_timeline_and_outputs(tmp_path: Path) -> None:
    result = cli("run", "workflows/examples/hello.yaml", "--input", "name=Ada", "-i", "times=2")
    assert result.returncode == 0, result.stderr
    assert '"greeting": "Hello Ada"' in result.stdout
    assert "core.log" in result.stdout and "done" in result.stdout


def test_run_with_an_input_file_and_json(tmp_path: Path) -> None:
    case = write(tmp_path / "case.json", '{"name": "Grace", "times": 1}')
    result = cli("run", "hello", "--input-file", str(case), "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "done" and record["outputs"] == {"greeting": "Hello Grace"}
    assert "state" not in record


def test_bad_input_is_refused_with_every_reason() -> None:
    result = cli("run", "hello", "-i", "times=nine", "-i", "colour=red")
    assert result.returncode == 2
    for reason in ("input.name: required, but missing", "input.times:", "input.colour: not a field"):
        assert reason in result.stdout


def test_an_input_given_twice_or_without_a_name_is_refused(tmp_path: Path) -> None:
    result = cli("run", "hello", "-i", "name=Ada", "-i", "name=Grace")
    assert result.returncode == 2
    assert "--input name is given twice ('Ada' and 'Grace'): give it once" in " ".join(result.stderr.split())
    assert "Hello" not in result.stdout
    result = cli("run", "hello", "-i", "=Ada")
    assert result.returncode == 2 and "has no name before '='" in result.stderr
    result = cli("run", "hello", "-i", "[/x]=1", "-i", "[/x]=2")  # text, not console markup
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--input [/x] is given twice" in result.stderr
    # A pair may still override what an input file says: that is what the two are for.
    case = write(tmp_path / "case.json", '{"name": "Grace", "times": 1}')
    result = cli("run", "hello", "--input-file", str(case), "-i", "name=Ada")
    assert result.returncode == 0 and '"greeting": "Hello Ada"' in result.stdout


def test_a_login_routine_is_not_run_as_a_case() -> None:
    result = cli("run", "crm_login")
    assert result.returncode == 2
    message = " ".join(result.stdout.split())
    assert "'crm_login' runs inside a web system's session (runs_in: web)" in message
    assert "start a workflow that uses it" in message


def test_an_unknown_workflow_suggests_the_closest() -> None:
    result = cli("run", "helo")
    assert result.returncode == 2
    assert "no workflow named 'helo'" in result.stdout and "did you mean 'hello'?" in result.stdout


@pytest.mark.parametrize(("content", "shown"), [("[1, 2]", "an array"), ("42", "a number"), ("null", "null")])
def test_an_input_file_must_hold_a_json_object(tmp_path: Path, content: str, shown: str) -> None:
    case = write(tmp_path / "case.json", content)
    result = cli("run", "hello", "--input-file", str(case))
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert f"{case}: the case's input must be a JSON object" in message and f"got {shown}" in message
    assert "Traceback" not in result.stderr


def test_a_list_of_pairs_is_not_taken_for_an_object(tmp_path: Path) -> None:
    case = write(tmp_path / "case.json", '[["name", "Bob"]]')
    result = cli("run", "hello", "--input-file", str(case))
    assert result.returncode == 2 and "must be a JSON object" in result.stderr
    assert "Hello Bob" not in result.stdout


@pytest.mark.parametrize("target", ["folder", "missing/schema.json"])
def test_schema_to_a_path_it_cannot_write_is_a_clear_error(tmp_path: Path, target: str) -> None:
    (tmp_path / "folder").mkdir()
    result = cli("schema", "-o", str(tmp_path / target))
    assert result.returncode == 2
    reason = "it is a folder" if target == "folder" else "No such file or directory"
    assert f"cannot write the schema to {tmp_path / target}: {reason}" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_refuses_a_workflow_whose_references_are_missing(tmp_path: Path) -> None:
    write(tmp_path / "business_rules" / "size.yaml", "name: size\ninputs: {}\noutputs: {}\nrules: []\n")
    bad = write(tmp_path / "workflows" / "bad.yaml", "name: bad\nsteps:\n  - decide: sise\n")
    result = cli("run", "bad", "--project", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"{bad}:3:5: unknown rule table 'sise'" in result.stdout and "did you mean 'size'?" in result.stdout
    )
    assert "human task" not in result.stdout  # refused before it started


@pytest.mark.parametrize(
    ("step", "where", "message"),
    [
        (f"core.sleep: 1{'0' * 400}", "3:5", "durations are at most 1 day"),
        ("core.log: hi\n    timeout: .inf", "4:5", "a duration must be a finite number"),
        (
            "fail: {message: down, kind: system}\n"
            "    retry: {attempts: 2, backoff: 1.0e+300, max_delay: 1.0e+300}",
            "4:26",
            "durations are at most 1 day",
        ),
    ],
)
def test_run_and_validate_refuse_a_duration_the_engine_cannot_wait(
    tmp_path: Path, step: str, where: str, message: str
) -> None:
    bad = write(tmp_path / "workflows" / "slow.yaml", f"name: slow\nsteps:\n  - {step}\n")
    for command in ("validate", "run"):
        result = cli(command, str(bad), "--project", str(tmp_path))
        assert result.returncode == (1 if command == "validate" else 2), result.stdout + result.stderr
        assert f"{bad}:{where}:" in result.stdout and message in " ".join(result.stdout.split())
        assert "Traceback" not in result.stderr


def test_validate_a_project_folder_reads_it_as_robots_do(tmp_path: Path) -> None:
    home = tmp_path / "proj"
    write(
        home / "workflows" / "logins" / "app_login.yaml",
        "name: app_login\nruns_in: web\nsteps:\n  - web.goto: /\n",
    )
    write(
        home / "workflows" / "check.yaml",
        """
        name: check
        systems:
          app: {kind: web, url: "http://127.0.0.1:1", login: app_login}
        steps:
          - in: app
            steps:
              - web.goto: /
        """,
    )
    write(home / "schedules" / "nightly.yaml", "name: nightly\nworkflow: check\ncron: '0 2 * * *'\n")
    result = cli("validate", str(home), cwd=tmp_path)  # no business_rules/: none is needed
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems found" in result.stdout


def test_init_makes_a_project_that_validates(tmp_path: Path) -> None:
    created = cli("init", "new", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    checked = cli("validate", cwd=tmp_path / "new", env={"TANDEM_HOME": ""})
    assert checked.returncode == 0, checked.stdout + checked.stderr
    again = cli("init", "new", cwd=tmp_path)
    assert again.returncode == 2 and "already is a project" in again.stderr


def test_outside_a_project_a_command_says_how_to_name_one(tmp_path: Path) -> None:
    result = cli("validate", cwd=tmp_path, env={"TANDEM_HOME": ""})
    assert result.returncode == 2
    assert "is not a Tandem project" in result.stderr and "--project" in result.stderr


def test_run_prints_the_timeline_once() -> None:
    result = cli("run", "hello", "--input", "name=Ada")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("core.log") == 1, result.stdout  # the table, not also a line per step


def test_a_local_run_that_needs_a_person_says_it_keeps_no_task(tmp_path: Path) -> None:
    """The task of a local run lives in that process: it must not read like one to find in
    run.py tasks, which then says 'no tasks match'."""
    write(
        tmp_path / "workflows" / "boom.yaml", "name: boom\nsteps:\n  - fail: {message: down, kind: system}\n"
    )
    result = cli("run", "boom", cwd=tmp_path, env={"TANDEM_HOME": ""})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "a queued case would now wait for a person in queue 'exceptions'" in result.stdout
    assert "run.py run keeps no tasks" in result.stdout and "human task" not in result.stdout
