"""Watching a robot in real Chromium: a running case's page shows each web step's picture as
the step lands, and a failed case's Playwright trace opens in the trace viewer the control
room serves itself, with the network blocked.

The robot is real (its own Chromium, the demo supplier portal) and runs in this thread, as
the Playwright driver is shared; the case page is a second browser, signed in as an ops
person. While the robot works, each time it starts a step the test waits for the page to
show every picture stored so far.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from demo.run import ControlRoomServer
from demo.server import DemoApps
from orchestrator.service import Orchestrator
from orchestrator.worker.execution import run_claim
from robots.drivers.systems import ByKind
from robots.drivers.web_session import THUMBNAIL_WIDTH
from robots.engine.records import StepRecord
from robots.engine.runner import Engine
from robots.language.loader import parse_workflow

pytestmark = pytest.mark.e2e

PASSWORDS = {"admin": "admin-demo-1", "max.agent": "agent-demo-2"}
BOOKING = {"order_number": "O-100002", "postal_code": "20095", "email": "jonas@example.com"}
WAIT = 20_000  # ms: generous, the machine is shared


@pytest.fixture
def store(store: Orchestrator) -> Orchestrator:
    store.load_organisation()
    return store


def sign_in(browser: Any, base: str, username: str, path: str, **options: Any) -> Any:
    page = browser.new_context(base_url=base, **options).new_page()
    page.goto(path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{path}")
    return page


def robot(store: Orchestrator, sessions: ByKind, artifacts: Path, mode: str = "workflow") -> Engine:
    return Engine(
        store.project,
        humans=store.humans("vm#1"),
        systems=sessions,
        robot="vm#1",
        artifacts_dir=artifacts,
        escalate_system_failures=False,
        sleep=lambda seconds: None,
        step_screenshots=mode,
    )


def pictures_stored(store: Orchestrator, case_id: str) -> int:
    steps = store.case_timeline(case_id).steps
    return sum(1 for step in steps for artifact in step.artifacts if str(artifact).endswith(".jpg"))


def test_a_running_case_page_shows_each_web_steps_picture_as_it_lands(
    control_room: ControlRoomServer,
    browser: Any,
    store: Orchestrator,
    robot_sessions: ByKind,
    demo: DemoApps,
    tmp_path: Path,
) -> None:
    case, _ = store.create_case("delivery_appointment", "ivr:watch-1", BOOKING)
    claim = store.claim_next_case("vm#1")
    assert claim is not None and claim.case.id == case.id
    page = sign_in(browser, control_room.url, "admin", f"/ops/cases/{case.id}")
    page.wait_for_selector("body[data-callouts-ready='yes']")
    page.evaluate("window.notReloaded = true")
    assert page.locator("a.step-shot img").count() == 0

    shown: list[int] = []  # pictures on the page each time the robot moved on, while it ran

    def on_step(record: StepRecord) -> None:
        stored = pictures_stored(store, case.id)
        if stored > (shown[-1] if shown else 0):
            page.wait_for_function(
                "n => document.querySelectorAll('a.step-shot img').length >= n", arg=stored, timeout=WAIT
            )
            shown.append(stored)

    # The robot's setting asks for a picture at every web step (TANDEM_STEP_SCREENSHOTS=all).
    done = run_claim(
        store, robot(store, robot_sessions, tmp_path / "artifacts", "all"), claim, on_step=on_step
    )
    assert done is not None and done.status == "done", done
    assert len(shown) >= 3, f"the pictures did not arrive step by step while the robot ran: {shown}"
    assert shown == sorted(set(shown))
    final = pictures_stored(store, case.id)
    page.wait_for_function(
        "n => document.querySelectorAll('a.step-shot img').length === n", arg=final, timeout=WAIT
    )
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"

    # Each picture is a small JPEG of the robot's page; a click opens it at full size.
    first = page.locator("a.step-shot img").first
    first.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=first.element_handle(), timeout=WAIT
    )
    assert page.evaluate("img => img.naturalWidth", first.element_handle()) == THUMBNAIL_WIDTH
    with page.expect_response("**/artifact/step/0") as answer:
        first.click()
    assert answer.value.headers["content-type"] == "image/jpeg"
    assert answer.value.body()[:2] == b"\xff\xd8"

    # Without JavaScript the page shows the same pictures (rendered by the server).
    plain = sign_in(browser, control_room.url, "admin", f"/ops/cases/{case.id}", java_script_enabled=False)
    assert plain.locator("a.step-shot img").count() == final

    # The pictures are the case's evidence: an agent, who may not open case pages, gets none.
    agent = sign_in(browser, control_room.url, "max.agent", "/inbox")
    assert agent.request.get(f"/ops/cases/{case.id}/artifact/step/0").status == 403


def test_the_workflow_or_its_system_asks_for_pictures_and_the_robot_may_refuse(
    robot_sessions: ByKind, demo: DemoApps, store: Orchestrator, tmp_path: Path
) -> None:
    text = """
name: watched
input:
  customer: {type: string}
step_screenshots: true
systems:
  crm: {kind: web, url: "${CRM_URL}", login: crm_login, credentials: crm_robot}
  crm_quiet: {kind: web, url: "${CRM_URL}", login: crm_login, credentials: crm_robot, step_screenshots: false}
steps:
  - in: crm
    steps:
      - web.goto: "/customers/{{ input.customer }}"
      - web.read: {test_id: city}
        as: city
      - core.log: "the city is {{ city }}"
  - in: crm_quiet
    steps:
      - web.goto: "/customers/{{ input.customer }}"
"""
    workflow, problems = parse_workflow(text.lstrip(), "watched.yaml")
    assert not problems and workflow is not None, problems

    def pictured(mode: str) -> dict[str, list[str]]:
        record = robot(store, robot_sessions, tmp_path / mode, mode).run(workflow, {"customer": "C000001"})
        assert record.status == "done", record.error
        return {step.path: step.artifacts for step in record.steps if step.artifacts}

    asked = pictured("workflow")
    # The crm's web steps, not the log step, not the quiet system, never a login step.
    assert sorted(asked) == ["1.1", "1.2"], asked
    for files in asked.values():
        assert len(files) == 1 and Path(files[0]).read_bytes()[:2] == b"\xff\xd8"
        assert Path(files[0]).stat().st_size < 60_000
    assert sorted(pictured("all")) == ["1.1", "1.2", "2.1"]
    assert pictured("off") == {}
