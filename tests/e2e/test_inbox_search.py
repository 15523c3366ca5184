"""The inbox's search box in real Chromium: it finds the agent's tasks by customer number,
order number, name and reference, keeps finding them as tasks arrive (live, no reload), works
with JavaScript switched off, and never shows another unit's task."""

from __future__ import annotations

from typing import Any

import pytest

from demo.processes import ControlRoomServer
from orchestrator.service import Orchestrator
from robots.errors import HumanTaskRequest

pytestmark = pytest.mark.e2e

WAIT = 10_000  # ms: generous, the machine is shared


@pytest.fixture
def store(store: Orchestrator) -> Orchestrator:
    store.load_organisation()
    return store


def new_task(
    store: Orchestrator, reference: str, customer: str, queue: str = "appointments", name: str = ""
) -> str:
    case, _ = store.create_case(
        "appointment_failed",
        f"ivr:{reference}",
        {"customer_id": customer, "order_number": "O-300001", "postal_code": "80331"},
    )
    request = HumanTaskRequest(
        queue=queue, reason=f"Call back {reference}", data={"name": name}, step="agent"
    )
    return store.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:agent")


def sign_in(browser: Any, base: str, *, javascript: bool = True) -> Any:
    """Munich's agent on the inbox."""
    page = browser.new_context(base_url=base, java_script_enabled=javascript).new_page()
    page.goto("/inbox")
    page.get_by_label("Username").fill("max.agent")
    page.get_by_label("Password").fill("agent-demo-2")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Inbox").wait_for(timeout=WAIT)
    return page


def rows(page: Any) -> set[str]:
    return set(page.eval_on_selector_all("tr[data-task-id]", "rows => rows.map(r => r.dataset.taskId)"))


def test_the_search_finds_a_customers_tasks_and_new_ones_arrive_live(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    first = new_task(store, "CALL-s-1", "C000555", name="Lea Weber")
    other = new_task(store, "CALL-s-2", "C000556", name="Jan Roth")
    page = sign_in(browser, control_room.url)
    assert rows(page) == {first, other}

    page.get_by_role("searchbox", name="Search").fill("C000555")
    page.get_by_role("searchbox", name="Search").press("Enter")
    page.wait_for_url("**/inbox?*q=C000555*", timeout=WAIT)
    page.wait_for_selector("body[data-callouts-ready='yes']", timeout=WAIT)
    assert rows(page) == {first}
    assert page.get_by_role("searchbox", name="Search").input_value() == "C000555"
    page.evaluate("window.notReloaded = true")

    # Another unit's task for the same customer and a task of another customer, then a new
    # task of the customer searched for: only the last one joins the list, without a reload.
    berlin = new_task(store, "CALL-s-3", "C000555", queue="address_review", name="Lea Weber")
    new_task(store, "CALL-s-4", "C000557")
    arrived = new_task(store, "CALL-s-5", "C000555")
    page.locator(f"tr[data-task-id='{arrived}']").wait_for(timeout=WAIT)
    assert rows(page) == {first, arrived}
    assert berlin not in page.content()
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
    # The refresh asked for its regions only (pages/fragments.py), not the whole page.
    last = page.evaluate("window.tandemLive[window.tandemLive.length - 1]")
    assert last["swapped"] >= 1 and last["bytes"] < len(page.content())

    # A name finds its task too; clearing the search shows every task again.
    page.get_by_role("searchbox", name="Search").fill("lea weber")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/inbox?*q=lea+weber*", timeout=WAIT)
    assert rows(page) == {first}
    page.get_by_role("link", name="Clear the search").click()
    page.wait_for_url("**/inbox?*", timeout=WAIT)
    page.locator(f"tr[data-task-id='{other}']").wait_for(timeout=WAIT)
    assert berlin not in rows(page)


def test_the_search_works_without_javascript(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    wanted = new_task(store, "CALL-nojs-1", "C000777")
    new_task(store, "CALL-nojs-2", "C000778")
    berlin = new_task(store, "CALL-nojs-3", "C000777", queue="address_review")
    page = sign_in(browser, control_room.url, javascript=False)
    page.get_by_label("Search").fill("c000777")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/inbox?*q=c000777*", timeout=WAIT)
    assert rows(page) == {wanted}
    assert berlin not in page.content()
    assert page.get_by_text("Only tasks that match “c000777”.").is_visible()
