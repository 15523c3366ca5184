"""The agent inbox in a real browser: a robot's callout pops up, the agent works the task and
the case finishes; an agent of another unit can neither see nor open the task.

The robot runs in this test's thread (``Engine`` + the durable HumanGateway, as a worker
would) against the demo apps; the control room runs with uvicorn in a thread; the agents'
browsers are real Chromium.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from demo.processes import ControlRoomServer
from demo.server import DemoApps
from orchestrator.models import Case
from orchestrator.service import Orchestrator
from orchestrator.worker.execution import run_claim
from robots.drivers.systems import ByKind
from robots.engine.human_gateway import Callout
from robots.engine.runner import Engine

pytestmark = pytest.mark.e2e

HANNAH = {
    "customer_id": "C000009",
    "order_number": "O-100009",
    "postal_code": "28195",
}  # Bremen: NordLogistik


@pytest.fixture
def store(store: Orchestrator) -> Orchestrator:
    """The e2e store with the demo organisation (agents, units, queues) loaded."""
    store.load_organisation()
    return store


class RobotAtDesk:
    """One robot working the queue in this thread, as a worker process would."""

    def __init__(self, store: Orchestrator, sessions: ByKind, artifacts: Path) -> None:
        self.store = store
        self.engine = Engine(
            store.project,
            humans=store.humans(),
            systems=sessions,
            artifacts_dir=artifacts,
            robot="inbox-robot",
            escalate_system_failures=False,
            sleep=lambda seconds: None,
        )

    def work_next(self) -> Case:
        claim = self.store.claim_next_case("inbox-robot")
        assert claim is not None, "no case was queued for the robot"
        case = run_claim(self.store, self.engine, claim)
        assert case is not None
        return case


@pytest.fixture
def robot(store: Orchestrator, robot_sessions: ByKind, demo: DemoApps, tmp_path: Path) -> RobotAtDesk:
    """A robot with the shared e2e browser session, against fresh demo apps."""
    return RobotAtDesk(store, robot_sessions, tmp_path / "artifacts")


def sign_in(browser: Any, base: str, username: str, password: str) -> Any:
    """A new browser context signed in as ``username``; its inbox page, listening for callouts."""
    context = browser.new_context(base_url=base)
    page = context.new_page()
    page.goto("/inbox")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/inbox")
    page.wait_for_selector("body[data-callouts-ready='yes']")
    return page


def test_agent_gets_the_robots_callout_works_the_task_and_the_case_finishes(
    store: Orchestrator, control_room: ControlRoomServer, browser: Any, robot: RobotAtDesk
) -> None:
    max_page = sign_in(browser, control_room.url, "max.agent", "agent-demo-2")  # Munich: appointments
    anna_page = sign_in(browser, control_room.url, "anna.agent", "agent-demo-1")  # Berlin

    case, _ = store.create_case("appointment_failed", "ivr:call-4711", HANNAH, channel="ivr")
    assert robot.work_next().status == "waiting_human"  # gathered phone, supplier, slots; asked a person

    callout = max_page.get_by_role("alertdialog", name="Delivery appointment for Hannah Richter needs you")
    callout.wait_for()
    assert "NordLogistik" in callout.inner_text()
    assert "+49 39 4012411" in callout.inner_text()  # Hannah's phone number, read from the CRM by the robot

    arrival = max_page.locator(".callout[data-kind='task']")
    arrival.wait_for()
    arrival.get_by_role("link", name="Open task").click()
    max_page.wait_for_url("**/tasks/*")
    task_id = max_page.url.rsplit("/", 1)[-1]
    assert "Call the customer and agree a delivery slot (order O-100009)" in max_page.inner_text("main")

    slots = max_page.get_by_label("Slot agreed with the customer")
    chosen = slots.locator("option").nth(1).get_attribute("value")
    assert chosen
    slots.select_option(chosen)
    max_page.get_by_label("Note for the customer (optional)").fill("Please ring twice")
    max_page.get_by_role("button", name="Book the agreed slot").click()
    max_page.wait_for_url("**/inbox")
    assert f"Task {task_id} corrected: a robot takes the case on" in max_page.inner_text("main")

    finished = robot.work_next()  # the robot books the agreed slot: robot -> human -> robot
    assert finished.status == "done"
    assert finished.outputs and f"{finished.outputs['date']} {finished.outputs['window']}" == chosen
    max_page.goto(f"/tasks/{task_id}")
    assert max_page.locator(
        "[aria-label='Why'] .badge.done"
    ).is_visible()  # the case's state, as the agent sees it

    # Berlin's agent saw no pop-up for Munich's queue, has no such task, and is refused both ways.
    assert anna_page.locator(".callout").count() == 0
    anna_page.goto("/inbox?state=all")
    assert task_id not in anna_page.inner_text("main")
    refused = anna_page.goto(f"/tasks/{task_id}")
    assert refused is not None and refused.status == 403
    assert "Not yours to open" in anna_page.inner_text("main")
    api = anna_page.request.get(f"/api/tasks/{task_id}")
    assert api.status == 403
    assert "outside" in api.json()["error"]
    assert case.id == finished.id


def test_callout_markup_is_shown_as_text(
    store: Orchestrator, control_room: ControlRoomServer, browser: Any
) -> None:
    page = sign_in(browser, control_room.url, "max.agent", "agent-demo-2")
    store.push_callout(
        Callout(
            title="<img src=x onerror=alert(1)> Customer <b>VIP</b>",
            message="<script>document.title='owned'</script>",
            queue="appointments",
            data={"note": "<a href='javascript:alert(1)'>click</a>"},
            hints=["<i>upsell</i>"],
        )
    )
    shown = page.locator(".callout").first
    shown.wait_for()
    assert "<img src=x onerror=alert(1)> Customer <b>VIP</b>" in shown.inner_text()
    assert shown.locator("img, b, script, a[href^='javascript'], i").count() == 0
    assert page.title() != "owned"
