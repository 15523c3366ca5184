"""``ensure``: check, change only when needed, verify; its loader problems; validate's warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from robots.engine.runner import Engine
from robots.language.effects import unchecked_changes
from robots.language.project import Project
from robots.language.registry import ActionContext, ActionParams, action
from robots.language.steps import EnsureStep
from tests.conftest import load_text, steps_workflow, workflow, write

# The "system": one value, and how often it was written.
STATE: dict[str, Any] = {}


class _StateParams(ActionParams):
    value: Any = None
    lag: int = 0


@action("ensure_test.read")
def _read(ctx: ActionContext, params: _StateParams) -> Any:
    """Reads the value."""
    return STATE.get("value")


@action("ensure_test.write", side_effect=True)
def _write(ctx: ActionContext, params: _StateParams) -> None:
    """Writes the value (``lag``: the next reads still see the old one that many times)."""
    STATE["writes"] = STATE.get("writes", 0) + 1
    STATE["value"] = params.value


@pytest.fixture(autouse=True)
def _reset() -> None:
    STATE.clear()
    STATE["value"] = "old"


ENSURE = """
- ensure: the value is new
  check:
    - ensure_test.read:
      as: seen
  holds: seen == 'new'
  change:
    - ensure_test.write: {value: new}
  as: result
- output: {changed: "{{ result.changed }}"}
"""


def run(flow: Any, escalate_system_failures: bool = True, **kwargs: Any) -> Any:
    engine = Engine(Project(Path("/nonexistent")), escalate_system_failures=escalate_system_failures)
    return engine.run(flow, {}, **kwargs)


def test_the_change_runs_when_the_state_does_not_hold_and_is_verified() -> None:
    record = run(steps_workflow(ENSURE))
    assert record.status == "done" and record.outputs == {"changed": True}
    assert STATE == {"value": "new", "writes": 1}
    assert [s.path for s in record.steps][:4] == ["1", "1.check.1", "1.change.1", "1.verify.1"]
    assert record.steps[0].outputs == {"changed": True}


def test_a_second_run_finds_the_work_done_and_changes_nothing() -> None:
    run(steps_workflow(ENSURE))
    again = run(steps_workflow(ENSURE))
    assert again.status == "done" and again.outputs == {"changed": False}
    assert STATE["writes"] == 1
    assert [s.path for s in again.steps] == ["1", "1.check.1", "2"]


def test_a_change_that_does_not_show_is_a_system_failure_naming_the_state() -> None:
    flow = steps_workflow(ENSURE.replace("value: new}", "value: other}"))
    record = run(flow, escalate_system_failures=False)
    assert record.status == "failed_system"
    assert "'the value is new' does not hold" in record.error


def test_a_retry_checks_again_and_does_not_change_twice() -> None:
    # The verify step fails once (the app is slow to show the save): the retry of the
    # enclosing group starts with the check, which finds the change made.
    flow = steps_workflow("""
        - retry: {attempts: 3, backoff: 0}
          steps:
            - ensure: the value is new
              check:
                - ensure_test.read:
                  as: seen
              holds: seen == 'new'
              change:
                - ensure_test.write: {value: new}
              verify:
                - fail: {message: "not shown yet", kind: system}
                  when: "{{ attempt_count is not defined }}"
                - set: {attempt_count: 1}
                - ensure_test.read:
                  as: seen
    """)
    record = run(flow)
    assert record.status == "done", record.error
    assert STATE["writes"] == 1


def test_a_run_resumed_after_a_crash_in_the_change_checks_again_and_changes_nothing_twice() -> None:
    # The robot saved, then died before the step was recorded (here: the next step fails).
    crashing = steps_workflow(
        ENSURE.replace("value: new}", "value: new}\n    - fail: {message: crash, kind: system}")
    )
    crashed = run(crashing, case_id="c", escalate_system_failures=False)
    assert crashed.status == "failed_system" and STATE["writes"] == 1
    assert not any(path.startswith("1") for path in crashed.state.completed)
    resumed = run(steps_workflow(ENSURE), case_id="c", state=crashed.state, attempt=2)
    assert resumed.status == "done" and resumed.outputs == {"changed": False}
    assert STATE["writes"] == 1


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("- ensure: x\n  holds: a\n  change: [{set: {a: 1}}]", "an 'ensure' step needs 'check'"),
        ("- ensure: x\n  check: [{set: {a: 1}}]\n  change: [{set: {a: 1}}]", "needs 'holds'"),
        ("- ensure: x\n  check: [{set: {a: 1}}]\n  holds: a", "needs 'change'"),
        (
            "- ensure: x\n  check: []\n  holds: a\n  change: [{set: {a: 1}}]",
            "'check' of an 'ensure' step has no",
        ),
        (
            "- ensure: x\n  check: [{set: {a: 1}}]\n  holds: a\n  change: [{set: {a: 1}}]\n  chekc: []",
            "unknown key",
        ),
    ],
)
def test_an_incomplete_ensure_is_a_located_problem(steps: str, message: str) -> None:
    flow, problems = load_text(
        f"name: t\nsteps:\n{steps.replace(chr(10), chr(10) + '  ').join(['  ', ''])}\n"
    )
    assert flow is None
    assert any(message in p.message for p in problems), problems
    assert all(p.line >= 3 for p in problems)


def test_holds_may_be_written_without_braces() -> None:
    flow = steps_workflow(ENSURE)
    step = flow.steps[0]
    assert isinstance(step, EnsureStep) and step.holds == "{{ seen == 'new' }}"


SYSTEMS = """
systems:
  crm: {kind: web, url: "http://127.0.0.1:1"}
"""


def _warnings(steps: str) -> list[str]:
    return [p.message for p in unchecked_changes(steps_workflow(steps, header=SYSTEMS))]


def test_validate_warns_on_a_retried_block_that_changes_a_system_without_a_check() -> None:
    (warning,) = _warnings("""
        - in: crm
          retry: 3
          steps:
            - web.goto: /x
            - web.click: {role: button, name: Save}
            - web.fill: {label: Street, value: x}
    """)
    assert "web.click and 1 more change(s) in the retried block 'in: crm' (retry at line" in warning


def test_a_block_without_a_retry_of_its_own_warns_too() -> None:
    """The queue runs a case's 'in' block again after a crash or a system exception: a
    recording, which has no retry, saves twice as easily as a retried block."""
    (warning,) = _warnings("- in: crm\n  steps: [{web.click: {role: button, name: Save}}]")
    assert warning.startswith("web.click in the block 'in: crm' changes the system without a check")
    assert "a queued case runs the block again after a crash or a system exception" in warning


@pytest.mark.parametrize(
    "steps",
    [
        # the change is in an ensure
        "- in: crm\n  retry: 3\n  steps:\n    - ensure: saved\n      check: [{web.read: {text: x}, as: v}]\n"
        "      holds: v\n      change: [{web.click: {role: button, name: Save}}]",
        # the author says running it twice changes nothing
        "- in: crm\n  retry: 3\n  idempotent: true\n  steps: [{web.click: {role: button, name: Search}}]",
        # only reads
        "- in: crm\n  retry: 3\n  steps: [{web.goto: /x}, {web.read: {text: x}}]",
    ],
)
def test_no_warning_where_nothing_can_change_twice(steps: str) -> None:
    assert _warnings(steps) == []


def test_a_retry_around_the_block_and_a_called_routine_count(tmp_path: Path) -> None:
    write(
        tmp_path / "workflows" / "save.yaml",
        "name: save\nruns_in: web\nsteps:\n  - web.click: {role: button, name: Save}\n",
    )
    write(
        tmp_path / "workflows" / "main.yaml",
        f"name: main\n{SYSTEMS}steps:\n  - retry: 2\n    steps:\n      - in: crm\n"
        "        steps: [{call: save}]\n",
    )
    project = Project(tmp_path)
    (warning,) = project.warnings()
    assert warning.file.endswith("save.yaml") and "'in: crm'" in warning.message
    assert project.validate() == []


def test_the_shipped_workflows_have_no_unchecked_change() -> None:
    from tests.conftest import ROOT

    assert [str(w) for w in Project(ROOT).warnings()] == []


def test_workflow_helper_accepts_ensure_with_verify() -> None:
    flow = workflow("""
        name: t
        steps:
          - ensure: x
            check: [{set: {a: 1}}]
            holds: a == 1
            change: [{set: {a: 1}}]
            verify: [{set: {a: 1}}]
    """)
    assert isinstance(flow.steps[0], EnsureStep) and len(flow.steps[0].verify) == 1


def test_the_json_schema_offers_ensure_with_its_keys() -> None:
    from robots.language.schema import workflow_schema

    ensure = workflow_schema()["$defs"]["EnsureStep"]
    assert {"ensure", "check", "holds", "change", "verify", "as"} <= set(ensure["properties"])
    assert {"ensure", "check", "holds", "change"} <= set(ensure["required"])


def test_validate_prints_the_warning_the_reference_shows(tmp_path: Path) -> None:
    import re
    import subprocess
    import sys

    from tests.conftest import ROOT

    text = (ROOT / "docs" / "workflow-language.md").read_text(encoding="utf-8")
    section = text[text.index("### ensure") :]
    (example,) = [
        b
        for b in re.findall(r"^```yaml workflow\n(.*?)^```", section, re.S | re.M)
        if b.startswith("name: book")
    ]
    expected = re.search(r"^```text warning\n(.*?)^```", section, re.S | re.M)
    assert expected is not None
    write(tmp_path / "workflows" / "book.yaml", example)
    shown = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "validate", "workflows/book.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "300", "PYTHONPATH": str(ROOT)},
        check=True,
    ).stdout
    assert shown.replace(str(tmp_path / "workflows"), "workflows") == expected.group(1)
