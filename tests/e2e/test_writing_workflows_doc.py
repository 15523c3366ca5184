"""The complete examples of docs/writing-workflows.md run against the demo back-office."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from demo.server import DemoApps
from robots.language.loader import parse_workflow
from robots.language.model import Workflow
from tests.conftest import ROOT
from tests.e2e.conftest import Robot

pytestmark = pytest.mark.e2e

GUIDE = ROOT / "docs" / "writing-workflows.md"


def example(name: str) -> Workflow:
    """The ``yaml workflow`` block of the guide whose workflow is called ``name``."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"^```yaml workflow\n(.*?)^```", text, re.S | re.M)
    (body,) = [block for block in blocks if block.startswith(f"name: {name}\n")]
    workflow, problems = parse_workflow(body, f"{GUIDE.name}:{name}")
    assert not problems and workflow is not None, problems
    return workflow


def test_the_web_example_finds_the_customer_and_reads_the_card(robot: Robot, demo: DemoApps) -> None:
    record = robot.run(example("crm_customer_card"), {"postal_code": "20095", "name": "Jonas Müller"})
    assert record.status == "done", record.error
    assert record.outputs == {"customer_id": "C000002", "segment": "C"}


def test_the_web_example_hands_an_unknown_customer_to_a_person(robot: Robot, demo: DemoApps) -> None:
    record = robot.run(example("crm_customer_card"), {"postal_code": "20095", "name": "Nobody Here"})
    assert record.status == "failed_business"
    assert record.error == "no customer Nobody Here at postal code 20095"
    lookups = [step for step in record.steps if step.path == "lookup"]
    assert len(lookups) == 1  # a business exception is never retried


def test_the_desktop_example_reads_the_address_from_the_terminal(robot: Robot, demo: DemoApps) -> None:
    record = robot.run(example("terminal_address"), {"customer_id": "C000003"})
    assert record.status == "done", record.error
    assert {k: record.outputs[k] for k in ("street", "postal_code", "city")} == {
        "street": "Marienplatz 3",
        "postal_code": "80331",
        "city": "München",
    }
    with Image.open(Path(record.outputs["evidence"])) as shot:
        assert shot.size == (800, 600)


def test_the_walkthrough_from_init_to_a_batch_runs_as_written(
    demo: DemoApps, robot_env: dict[str, str], tmp_path: Path
) -> None:
    """Every command of the guide's ``bash walkthrough`` blocks, in order, in a new folder."""
    import json
    import os
    import shlex
    import subprocess
    import sys

    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash walkthrough\n(.*?)^```", text, re.S | re.M)
    commands = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    env = {
        k: v for k, v in {**os.environ, **robot_env}.items() if k not in ("TANDEM_HOME", "TANDEM_DATA_DIR")
    }
    env["COLUMNS"] = "200"
    here = tmp_path
    for command in filter(None, commands):
        words = shlex.split(command)
        if words[0] == "cd":
            here = here / words[1]
            continue
        assert words[0] == "run.py", command
        result = subprocess.run(
            [sys.executable, str(ROOT / "run.py"), *words[1:]],
            cwd=here,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    listed = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "cases", "--json"],
        cwd=here,
        env=env,
        capture_output=True,
        text=True,
    )
    cases = json.loads(listed.stdout)
    # References are <schedule>@<fire time>/<key>: one case per CSV line, each done.
    assert sorted((c["reference"].rsplit("/", 1)[-1], c["status"]) for c in cases) == [
        ("C000001", "done"),
        ("C000005", "done"),
        ("C000007", "done"),
    ]
    assert {c["outputs"]["tier"] for c in cases} == {"gold", "standard"}


def test_the_ensure_example_saves_once_however_often_it_runs(robot: Robot, demo: DemoApps) -> None:
    case = {"customer_id": "C000004", "street": "Einmalweg 1"}
    first = robot.run(example("crm_set_street"), case)
    second = robot.run(example("crm_set_street"), case)
    assert (first.status, second.status) == ("done", "done"), (first.error, second.error)
    assert (first.outputs["changed"], second.outputs["changed"]) == (True, False)
    saves = [e for e in demo.audit("crm") if e["action"] == "address_changed" and e["entity"] == "C000004"]
    assert len(saves) == 1


def test_the_references_ensure_example_changes_the_street_once(robot: Robot, demo: DemoApps) -> None:
    text = (ROOT / "docs" / "workflow-language.md").read_text(encoding="utf-8")
    (body,) = [
        b
        for b in re.findall(r"^```yaml workflow\n(.*?)^```", text, re.S | re.M)
        if b.startswith("name: ensure_example\n")
    ]
    workflow, problems = parse_workflow(body, "workflow-language.md:ensure_example")
    assert workflow is not None and not problems, problems
    case = {"customer_id": "C000006", "street": "Referenzweg 2"}
    runs = [robot.run(workflow, case) for _ in range(2)]
    assert [r.status for r in runs] == ["done", "done"], [r.error for r in runs]
    assert [r.state.completed["1"]["vars"]["street_change"] for r in runs] == [
        {"changed": True},
        {"changed": False},
    ]
    saves = [e for e in demo.audit("crm") if e["action"] == "address_changed" and e["entity"] == "C000006"]
    assert len(saves) == 1
