"""A robot's password, seeded in the vault, never shows up in what the robot leaves behind.

Checked after real logins into the demo CRM (a fresh one and a re-login after the session
expired) and failing steps that even put the password into the error: the log file, the run
record with its steps and state, the human task, the error, artifact file names, screenshot
metadata and the Playwright traces.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from loguru import logger
from PIL import Image

from demo.data import LOGINS
from demo.server import DemoApps
from robots.drivers.systems import ByKind
from robots.engine.records import RunRecord
from robots.language.loader import parse_workflow
from robots.language.model import Workflow
from robots.logs import configure_logging
from tests.e2e.conftest import Robot

pytestmark = pytest.mark.e2e

PASSWORD = LOGINS["crm"]["robot.crm"]  # what robot_secrets() put into the environment vault


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """The JSON log file as run.py and the workers write it, at DEBUG."""
    path = configure_logging(level="DEBUG", log_dir=tmp_path / "logs", console=False)
    assert path is not None
    yield path
    logger.remove()
    logger.configure(patcher=None)
    logger.add(lambda message: None)  # pytest's capture has its own view; keep loguru quiet


def failing(step: str) -> Workflow:
    text = f"""
name: leaky
systems:
  crm:
    kind: web
    url: "${{CRM_URL}}"
    login: crm_login
    credentials: crm_robot
    logged_out: "text=Your session has expired"
steps:
  - in: crm
    steps:
      - web.goto: /customers/C000001
      - core.log: "the robot would log {{{{ secret('crm_robot.password') }}}} here"
      - {step}
"""
    workflow, problems = parse_workflow(text.lstrip(), "leaky.yaml")
    assert not problems, problems
    assert workflow is not None
    return workflow


def everything_left_behind(
    record: RunRecord, robot: Robot, artifacts: Path, log_file: Path
) -> dict[str, bytes]:
    left: dict[str, bytes] = {
        "log file": log_file.read_bytes(),
        "run record": record.model_dump_json().encode(),
        "run state (stored for resuming)": record.state.model_dump_json().encode(),
        "error": (record.error or "").encode(),
    }
    for task_id, task in robot.humans.tasks.items():
        left[f"human task {task_id}"] = repr(task).encode()
    files = sorted(p for p in artifacts.rglob("*") if p.is_file())
    left["artifact names"] = "\n".join(str(p.relative_to(artifacts)) for p in files).encode()
    for path in files:
        if path.suffix == ".png":
            with Image.open(path) as image:
                left[f"metadata of {path.name}"] = repr(image.info).encode()
        if path.suffix == ".html":
            left[f"page {path.name}"] = path.read_bytes()
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as trace:
                for member in trace.namelist():
                    left[f"{path.name}:{member}"] = trace.read(member)
    return left


def test_the_password_is_nowhere_after_a_fresh_login_and_a_relogin(
    robot: Robot, demo: DemoApps, robot_sessions: ByKind, tmp_path: Path, log_file: Path
) -> None:
    robot_sessions.discard("crm")  # the next case logs in afresh
    first = robot.run(failing("web.expect: {text: \"{{ secret('crm_robot.password') }}\", timeout: 0.3}"), {})
    httpx.post(f"{demo.urls['crm']}/_control/expire-sessions")  # the next case has to log in again
    second = robot.run(
        failing("web.fill: {label: Nope, value: \"{{ secret('crm_robot.password') }}\", timeout: 0.3}"), {}
    )
    logins = [e for e in demo.audit("crm") if e["action"] == "login"]
    assert len(logins) == 2, "both cases must have logged in for this test to mean anything"
    assert first.status == second.status == "failed_system"
    assert "expected text='***'" in (first.error or "")  # the password was in the message, and was masked
    traces = [p for p in (tmp_path / "artifacts").rglob("*.zip")]
    shots = [p for p in (tmp_path / "artifacts").rglob("*.png")]
    pages = [p for p in (tmp_path / "artifacts").rglob("*.html")]
    assert len(traces) == 2 and len(shots) >= 2, "every failure keeps a screenshot and a trace"
    assert len(pages) >= 2 and all(b"<html" in p.read_bytes() for p in pages), "and the page's HTML"

    for record in (first, second):
        for where, content in everything_left_behind(record, robot, tmp_path / "artifacts", log_file).items():
            assert PASSWORD.encode() not in content, f"the password leaked into the {where}"
    assert b"the robot would log *** here" in log_file.read_bytes()
