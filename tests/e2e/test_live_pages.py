"""Live pages in real Chromium: what the database says reaches the screen without a reload.

Each test opens a page, changes the data the way a robot or another person would (through the
store, from this thread, as a robot in another process does through the database) and waits
for the page to show it. A marker set on ``window`` before the change proves the page was
never reloaded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from demo.processes import ControlRoomServer
from orchestrator.control_room import callouts
from orchestrator.service import Orchestrator
from orchestrator.storage.tables import TaskRow
from robots.engine.records import RunState, StepRecord
from robots.errors import HumanTaskRequest

pytestmark = pytest.mark.e2e

PASSWORDS = {
    "max.agent": "agent-demo-2",
    "sven.supervisor": "supervisor-demo-1",
    "admin": "admin-demo-1",
}
HANNAH = {"customer_id": "C000009", "order_number": "O-100009", "postal_code": "28195"}
WAIT = 5000  # ms: far above the goal (p95 < 500 ms), so a slow machine does not fail


@pytest.fixture
def store(store: Orchestrator) -> Orchestrator:
    store.load_organisation()
    return store


def open_page(browser: Any, base: str, username: str, path: str) -> Any:
    """``path`` in a new context signed in as ``username``, listening, marked as not reloaded."""
    page = browser.new_context(base_url=base).new_page()
    page.goto(path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("body[data-callouts-ready='yes']")
    page.evaluate("window.notReloaded = true")
    return page


def not_reloaded(page: Any) -> None:
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"


def new_task(store: Orchestrator, reference: str, queue: str = "appointments") -> str:
    case, _ = store.create_case("appointment_failed", f"ivr:{reference}", HANNAH)
    request = HumanTaskRequest(queue=queue, reason=f"Call back {reference}", step="agent")
    return store.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:agent")


def test_inbox_rows_appear_change_and_leave(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    page = open_page(browser, control_room.url, "max.agent", "/inbox")
    task_id = new_task(store, "CALL-live-1")
    row = page.locator(f"tr[data-task-id='{task_id}']")
    row.wait_for(timeout=WAIT)
    assert "Call back CALL-live-1" in row.inner_text()
    assert "1 task" in page.locator("h1").inner_text()

    store.claim_task(task_id, "sven.supervisor")
    page.wait_for_function(
        f"document.querySelector(\"tr[data-task-id='{task_id}']\").innerText.includes('sven.supervisor')",
        timeout=WAIT,
    )

    store.escalate_task(task_id, "sven.supervisor", "needs Germany")  # out of Munich's queues
    row.wait_for(state="detached", timeout=WAIT)
    not_reloaded(page)


def test_supervisor_counts_follow_new_tasks(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    page = open_page(browser, control_room.url, "sven.supervisor", "/supervisor")
    queues = page.get_by_role("region", name="Queues")
    assert "appointments" not in queues.inner_text()
    new_task(store, "CALL-live-2")
    new_task(store, "CALL-live-3")
    page.wait_for_function(
        "[...document.querySelectorAll('[data-live=queue-counts] tr')]"
        ".some(r => r.cells[0].innerText === 'appointments' && r.cells[1].innerText === '2')",
        timeout=WAIT,
    )
    open_tasks = page.get_by_role("region", name="Open tasks")
    assert "Call back CALL-live-3" in open_tasks.inner_text()
    not_reloaded(page)


def test_a_task_that_passes_its_due_time_shows_as_breached(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(callouts, "SLA_TICK", 0.5)  # the clock topic, quicker than 30 s
    task_id = new_task(store, "CALL-live-due")
    with store.engine.begin() as connection:  # due in a moment: time, not data, makes it late
        connection.execute(
            sa.update(TaskRow)
            .where(TaskRow.id == task_id)
            .values(due_at=datetime.now(UTC) + timedelta(seconds=6))
        )
    page = open_page(browser, control_room.url, "sven.supervisor", "/supervisor")
    breaches = page.get_by_role("region", name="SLA breaches")
    assert task_id not in breaches.inner_text()
    breaches.get_by_role("link", name=task_id).wait_for(timeout=6000 + WAIT)
    not_reloaded(page)


def test_ops_cases_kpis_and_robots_follow_the_work(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    page = open_page(browser, control_room.url, "admin", "/ops")
    case, _ = store.create_case("appointment_failed", "ivr:CALL-live-4", HANNAH)
    page.locator(f"[data-live=case-rows] a[href='/ops/cases/{case.id}']").wait_for(timeout=WAIT)
    assert page.get_by_test_id("case-count").inner_text().startswith("1 case")
    assert page.get_by_test_id("kpi-totals").locator(".value").first.inner_text() == "1"

    store.register_robot("vm#2", host="vm2", pid=4242)
    store.robot_heartbeat(
        "vm#2", status="busy", case_id=case.id, workflow="appointment_failed", step="lookup_phone"
    )
    robots = page.get_by_role("region", name="Robots")
    robots.get_by_text("lookup_phone").wait_for(timeout=WAIT)
    assert "appointment_failed" in robots.inner_text()
    # The time at the step counts on: "lookup_phone 2 s" a little later, still no reload.
    page.wait_for_function(
        "Number(document.querySelector('[data-live=robots] [data-elapsed]').innerText.split(' ')[0]) >= 2",
        timeout=WAIT,
    )
    not_reloaded(page)


def test_a_running_case_timeline_grows_step_by_step(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    case, _ = store.create_case("appointment_failed", "ivr:CALL-live-5", HANNAH)
    claim = store.claim_next_case("vm#1")
    assert claim is not None and claim.case.id == case.id
    store.register_robot("vm#1", host="vm1", pid=4141)
    page = open_page(browser, control_room.url, "admin", f"/ops/cases/{case.id}")
    timeline = page.get_by_role("region", name="Timeline")
    for number, label in enumerate(["find_customer", "find_supplier", "free_slots"], start=1):
        # The robot starts the step: the case page says so at once...
        store.robot_heartbeat("vm#1", status="busy", case_id=case.id, workflow=case.workflow, step=label)
        page.get_by_test_id("robot-now").filter(has_text=label).wait_for(timeout=WAIT)
        # ...and the step's record joins the timeline when the robot checkpoints it.
        now = datetime.now(UTC)
        step = StepRecord(
            path=str(number), kind="web.goto", label=label, started_at=now, ended_at=now, outcome="ok"
        )
        store.save_checkpoint(claim, RunState(), [step])
        timeline.get_by_text(label).wait_for(timeout=WAIT)
    not_reloaded(page)
