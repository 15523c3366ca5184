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
