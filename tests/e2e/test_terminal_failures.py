"""The green-screen host's failure switches: a host that is down, a slow save (address_change)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.server import DemoApps
from robots.drivers.systems import ByKind
from robots.engine.human_gateway import InMemoryHumans
from robots.engine.runner import Engine
from robots.language.project import Project
from tests.conftest import ROOT
from tests.e2e.conftest import Robot

pytestmark = pytest.mark.e2e


@pytest.fixture
def terminal_control(robot_env: dict[str, str]) -> Iterator[Path]:
    """The terminal's switch file; removed afterwards so other tests meet a healthy host."""
    path = Path(robot_env["TANDEM_DEMO_DATA"]) / "host-control.json"
    yield path
    path.unlink(missing_ok=True)


def terminal_changes(robot_env: dict[str, str], customer: str) -> list[dict[str, object]]:
    path = Path(robot_env["TANDEM_DEMO_DATA"]) / "host.jsonl"
    entries = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [e for e in entries if e["action"] == "address_changed" and e["entity"] == customer]


def test_a_terminal_host_that_is_down_is_retried_then_handed_over_with_its_screen(
    robot: Robot, demo: DemoApps, terminal_control: Path, robot_env: dict[str, str]
) -> None:
    terminal_control.write_text('{"down": true}')
    record = robot.run(
        "address_change",
        {
            "customer_id": "C000013",
            "street": "Rüttenscheider Str. 2",
            "postal_code": "45127",
            "city": "Essen",
        },
    )
    assert record.status == "failed_system"
    assert record.error_step and record.error_step.startswith("terminal")
    assert record.error == "the terminal did not show customer C000013"
    attempts = [s for s in record.steps if s.path == "terminal"]
    assert [s.outcome for s in attempts] == ["retrying", "retrying", "failed"]
    (screen,) = [path for path in attempts[-1].artifacts if path.endswith("-screen.txt")]
    assert "KSE099 SYSTEM NOT AVAILABLE" in Path(screen).read_text(encoding="utf-8")  # the screen then
    assert terminal_changes(robot_env, "C000013") == []
    assert robot.humans.tasks[record.task_id].request.queue == "address_exceptions"


def test_a_slow_terminal_save_is_waited_for_not_slept_over(
    robot_sessions: ByKind, demo: DemoApps, terminal_control: Path, robot_env: dict[str, str], tmp_path: Path
) -> None:
    terminal_control.write_text('{"slow_ms": 1200}')
    engine = Engine(Project(ROOT), humans=InMemoryHumans(), systems=robot_sessions, artifacts_dir=tmp_path)
    record = engine.run(
        "address_change",
        {"customer_id": "C000014", "street": "Rheinallee 9", "postal_code": "40213", "city": "Düsseldorf"},
    )
    assert record.status == "done", record.error
    changes = terminal_changes(robot_env, "C000014")
    assert [c["after"] for c in changes] == [
        {"street": "Rheinallee 9", "postal_code": "40213", "city": "Düsseldorf"}
    ]  # saved once: the robot waited for the save instead of doing it again
    verify = [s for s in record.steps if s.label == "verify the terminal"]
    assert verify and verify[-1].outcome == "ok"
