"""The notification tray in real Chromium: callouts and task arrivals stay with the agent
across pages and sign-ins, read or unread; a data pop-up leads to its task; pop-ups never
cover the inbox's table."""

from __future__ import annotations

from typing import Any

import pytest

from demo.processes import ControlRoomServer
from orchestrator.service import Orchestrator
from robots.engine.human_gateway import Callout
from robots.errors import HumanTaskRequest

pytestmark = pytest.mark.e2e

MAX = ("max.agent", "agent-demo-2")  # Munich: appointments
HANNAH = {"customer_id": "C000009", "order_number": "O-100009", "postal_code": "28195"}
WAIT = 5000


@pytest.fixture
def store(store: Orchestrator) -> Orchestrator:
    store.load_organisation()
    return store


def sign_in(context: Any, path: str = "/inbox") -> Any:
    page = context.new_page()
    page.goto(path)
    page.get_by_label("Username").fill(MAX[0])
    page.get_by_label("Password").fill(MAX[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("body[data-callouts-ready='yes']")
    return page


def unread(page: Any) -> str:
    return str(page.get_by_test_id("unread-count").inner_text())


def new_task(store: Orchestrator, reference: str) -> tuple[str, str]:
    case, _ = store.create_case("appointment_failed", f"ivr:{reference}", HANNAH)
    request = HumanTaskRequest(queue="appointments", reason=f"Agree a slot ({reference})", step="agent")
    return case.id, store.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:agent")


def test_the_tray_keeps_arrivals_across_pages_until_read(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    page = sign_in(browser.new_context(base_url=control_room.url))
    assert unread(page) == "0"
    _, task_id = new_task(store, "CALL-tray-1")
    page.locator("#callouts .callout").first.wait_for(timeout=WAIT)
    page.wait_for_function(
        "document.querySelector('[data-testid=unread-count]').innerText === '1'", timeout=WAIT
    )

    page.goto(f"/tasks/{task_id}")  # another page: the pop-up is gone, the tray keeps it
    assert page.locator("#callouts .callout").count() == 0
    assert unread(page) == "1"
    page.get_by_role("group").filter(has_text="Notifications").first.locator("summary").click()
    entry = page.locator("ul.tray-items li.unread").first
    assert "CALL-tray-1" in entry.inner_text() or task_id in entry.inner_text()

    page.goto("/notifications")
    page.locator("ul.tray-items[data-live=tray-page] li.unread a").first.click()
    page.wait_for_url(f"**/tasks/{task_id}")
    assert unread(page) == "0"
    assert page.locator("ul.tray-items li.unread").count() == 0


def test_an_agent_who_signs_in_later_finds_what_is_still_relevant(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    page = sign_in(browser.new_context(base_url=control_room.url))
    page.get_by_role("button", name="Log out").click()

    # While Max is away: a robot pops up the customer's data, then its task arrives; an
    # older task arrives and is done by someone else before Max comes back.
    case_id, task_id = new_task(store, "CALL-tray-2")
    store.push_callout(
        Callout(
            title="Hannah: free slots",
            queue="appointments",
            case_id=case_id,
            data={"phone": "+49 31 4001379", "free_slots": ["2026-12-01 08-12"]},
        )
    )
    _, done_id = new_task(store, "CALL-tray-3")
    store.resolve_task(done_id, "sven.supervisor", "rejected", note="customer withdrew")

    page = sign_in(browser.new_context(base_url=control_room.url))
    assert unread(page) == "2"
    page.goto("/notifications")
    items = page.locator("ul[data-live=tray-page] li")
    texts = items.all_inner_texts()
    assert any("Hannah: free slots" in t for t in texts)
    assert not any("CALL-tray-3" in t for t in texts), "a finished task's arrival is no longer relevant"
    page.get_by_role("link", name="Hannah: free slots").click()  # the data leads to its task
    page.wait_for_url(f"**/tasks/{task_id}")
    assert unread(page) == "1"


def test_a_data_pop_up_links_to_its_task_and_never_covers_the_table(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    for width in (1280, 390):
        context = browser.new_context(base_url=control_room.url, viewport={"width": width, "height": 800})
        page = sign_in(context)
        case_id, task_id = new_task(store, f"CALL-tray-{width}")
        store.push_callout(
            Callout(title=f"slots {width}", queue="appointments", case_id=case_id, data={"slot": "08-12"})
        )
        page.locator("#callouts .callout", has_text=f"slots {width}").wait_for(timeout=WAIT)
        page.locator(f"tr[data-task-id='{task_id}']").wait_for(timeout=WAIT)
        table = page.get_by_role("table", name="Tasks").bounding_box()
        for card in page.locator("#callouts .callout").all():
            box = card.bounding_box()
            overlaps = not (
                box["x"] >= table["x"] + table["width"]
                or box["x"] + box["width"] <= table["x"]
                or box["y"] >= table["y"] + table["height"]
                or box["y"] + box["height"] <= table["y"]
            )
            assert not overlaps, f"a pop-up covers the table at {width} px: {box} {table}"
        card = page.locator("#callouts .callout", has_text=f"slots {width}")
        card.get_by_role("link", name="Open its task").click()
        page.wait_for_url(f"**/tasks/{task_id}")
        context.close()


def test_dismissing_a_pop_up_marks_it_read(
    control_room: ControlRoomServer, browser: Any, store: Orchestrator
) -> None:
    page = sign_in(browser.new_context(base_url=control_room.url))
    store.push_callout(Callout(title="Pays late", queue="appointments", level="warning"))
    card = page.locator("#callouts .callout", has_text="Pays late")
    card.wait_for(timeout=WAIT)
    page.wait_for_function(
        "document.querySelector('[data-testid=unread-count]').innerText === '1'", timeout=WAIT
    )
    card.get_by_role("button", name="Dismiss").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=unread-count]').innerText === '0'", timeout=WAIT
    )
    page.goto("/notifications")  # still listed, as read
    assert page.locator("ul[data-live=tray-page] li.read", has_text="Pays late").count() == 1
