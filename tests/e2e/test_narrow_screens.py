"""The inbox and a task page on a phone (390 px wide) in real Chromium: nothing scrolls
sideways, the header's links, the assist box and each task's reason, SLA and due time are on
screen, and an agent can open and claim a task by tapping."""

from __future__ import annotations

from typing import Any

import pytest

from demo.processes import ControlRoomServer
from orchestrator.service import Orchestrator
from robots.errors import HumanTaskRequest

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def task_id(store: Orchestrator) -> str:
    store.load_organisation()
    case, _ = store.create_case(
        "appointment_failed",
        "ivr:CALL-narrow",
        {"customer_id": "C000009", "order_number": "O-100009", "postal_code": "28195"},
    )
    request = HumanTaskRequest(
        queue="appointments",
        reason="Agree a delivery slot with the customer and book it",
        data={"phone": "+49 31 4001379", "free_slots": ["2026-12-01 08-12", "2026-12-01 12-16"]},
        form=[
            {
                "name": "slot",
                "label": "Slot",
                "type": "choice",
                "required": True,
                "choices": ["2026-12-01 08-12", "2026-12-01 12-16"],
            }
        ],
        step="agent",
        kind="await_human",
    )
    return store.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:agent")


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _on_screen(locator: Any) -> None:
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def test_inbox_and_task_page_on_a_phone(control_room: ControlRoomServer, browser: Any, task_id: str) -> None:
    page = browser.new_context(
        base_url=control_room.url, viewport=PHONE, is_mobile=True, has_touch=True
    ).new_page()
    page.goto("/inbox")
    page.get_by_label("Username").fill("max.agent")
    page.get_by_label("Password").fill("agent-demo-2")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/inbox")
    _fits(page)
    for element in (
        page.get_by_role("link", name="Inbox"),
        page.get_by_role("button", name="Log out"),
        page.get_by_label("Customer number"),
        page.get_by_role("button", name="Assist"),
    ):
        _on_screen(element)
    row = page.locator(f"tr[data-task-id='{task_id}']")
    for text in ("Agree a delivery slot", "ok", "open"):
        _on_screen(row.get_by_text(text, exact=text != "Agree a delivery slot").first)
    _on_screen(row.locator("time"))

    row.get_by_role("link", name=task_id).tap()
    page.wait_for_url(f"**/tasks/{task_id}")
    _fits(page)
    page.get_by_role("button", name="Claim").tap()
    page.get_by_role("status").filter(has_text="is yours now").wait_for()
    _on_screen(page.get_by_label("Slot"))
    _on_screen(page.get_by_role("button", name="Corrected: back to the robot"))
    _fits(page)
