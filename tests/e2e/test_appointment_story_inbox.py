"""The seed's failure story in a real browser: the robot cannot book, gathers everything,
the appointment team's agent picks a slot on the task page, the robot books it and mails the
summary; a slot taken meanwhile comes back in the same task; with no slot at all the agent
can only postpone or reject."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.mail_sink import MailSink
from demo.processes import ControlRoomServer
from demo.server import DemoApps
from orchestrator.models import Case
from orchestrator.service import Orchestrator
from orchestrator.worker.execution import run_claim
from robots.drivers.systems import ByKind
from robots.engine.runner import Engine
from tests.e2e.test_appointments import book_through_the_portal, bookings

pytestmark = pytest.mark.e2e


@pytest.fixture
def store(store: Orchestrator) -> Orchestrator:
    store.load_organisation()
    return store


@pytest.fixture
def work(store: Orchestrator, robot_sessions: ByKind, demo: DemoApps, tmp_path: Path) -> Any:
    engine = Engine(
        store.project,
        humans=store.humans(),
        systems=robot_sessions,
        artifacts_dir=tmp_path / "artifacts",
        robot="story-robot",
        escalate_system_failures=False,
        sleep=lambda seconds: None,
    )

    def work_next() -> Case:
        claim = store.claim_next_case("story-robot")
        assert claim is not None, "no case was queued for the robot"
        case = run_claim(store, engine, claim)
        assert case is not None
        return case

    return work_next


def agent_on(browser: Any, base: str, task_id: str) -> Any:
    """Munich's agent (the appointment team), on the task's page."""
    page = browser.new_context(base_url=base).new_page()
    page.goto(f"/tasks/{task_id}")
    page.get_by_label("Username").fill("max.agent")
    page.get_by_label("Password").fill("agent-demo-2")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/tasks/{task_id}")
    return page


def outcome_buttons(page: Any) -> list[str]:
    return [
        t.strip() for t in page.get_by_role("region", name="Outcome").get_by_role("button").all_inner_texts()
    ]


def test_agent_picks_a_slot_one_taken_twice_in_a_row_comes_back_in_the_same_task(
    store: Orchestrator,
    control_room: ControlRoomServer,
    browser: Any,
    work: Any,
    demo: DemoApps,
    mail_sink: MailSink,
) -> None:
    payload = {"customer_id": "C000003", "order_number": "O-100003", "postal_code": "80331"}
    case, _ = store.create_case("appointment_failed", "ivr:story-1", {**payload, "email": "lea@example.com"})
    first = work()
    assert first.status == "waiting_human" and first.task_id
    page = agent_on(browser, control_room.url, first.task_id)
    main = page.inner_text("main")
    assert "+49 33 4004137" in main and "Lea Weber" in main and "Sued Express" in main
    assert outcome_buttons(page) == ["Book the agreed slot", "Rejected", "Postponed"]

    slots = page.get_by_label("Slot agreed with the customer")
    agreed = slots.locator("option").nth(2).get_attribute("value")
    assert agreed
    slots.select_option(agreed)
    for _ in range(2):  # taken while on the phone, and the next one agreed is taken too
        book_through_the_portal(demo, "suedexpress", "O-100004", "50667", agreed)
        page.get_by_role("button", name="Book the agreed slot").click()
        page.wait_for_url("**/inbox")

        again = work()
        assert again.status == "waiting_human" and again.task_id == first.task_id  # no second task
        assert [t.id for t in store.list_tasks("max.agent", statuses=("open", "claimed", "completed"))] == [
            first.task_id
        ]
        page.goto(f"/tasks/{first.task_id}")
        reason = page.get_by_test_id("reason").inner_text()
        assert f"Slot {agreed} at Sued Express was taken meanwhile" in reason
        fresh = page.get_by_label("Slot agreed with the customer").locator("option").all_inner_texts()
        assert agreed not in fresh
        agreed = fresh[1]
        page.get_by_label("Slot agreed with the customer").select_option(agreed)
    page.get_by_label("Note for the customer (optional)").fill("Please ring twice")
    page.get_by_role("button", name="Book the agreed slot").click()
    page.wait_for_url("**/inbox")

    assert store.get_task(first.task_id).answer == {"slot": agreed, "note": "Please ring twice"}
    done = work()
    assert done.status == "done", done.error
    mine = [b for b in bookings(demo, "suedexpress") if b["order"] == "O-100003"]
    assert len(mine) == 1 and done.outputs and done.outputs["booking_number"] == mine[0]["booking"]
    assert f"{mine[0]['date']} {mine[0]['window']}" == agreed
    assert [t.id for t in store.case_timeline(case.id).tasks] == [first.task_id]
    (mail,) = mail_sink.wait_for(1)
    body = mail.get_body().get_content()
    assert "Please ring twice" in body and str(mine[0]["booking"]) in body
    assert store.get_case(case.id).status == "done"

    # The summary carries the customer's status link; it opens their case's page, no login.
    found = re.search(r"You can follow your request here at any time: (\S+)", body)
    assert found and found.group(1).startswith(f"{control_room.url}/webform/status/{case.id}/")
    customer = browser.new_context().new_page()
    customer.goto(found.group(1))
    assert customer.get_by_test_id("reference").inner_text() == case.id
    assert customer.get_by_test_id("status").get_attribute("data-status") == "done"
    assert customer.get_by_test_id("status").inner_text() == "Booked"


def test_a_slot_taken_with_none_left_comes_back_offering_only_postpone_or_reject(
    store: Orchestrator,
    control_room: ControlRoomServer,
    browser: Any,
    work: Any,
    demo: DemoApps,
) -> None:
    payload = {"customer_id": "C000003", "order_number": "O-100003", "postal_code": "80331"}
    store.create_case("appointment_failed", "ivr:story-4", payload)
    first = work()
    assert first.status == "waiting_human" and first.task_id
    page = agent_on(browser, control_room.url, first.task_id)
    page.get_by_label("Slot agreed with the customer").select_option(index=1)
    demo.control("suedexpress", no_slots=True)  # every slot went while the agent was on the phone
    page.get_by_role("button", name="Book the agreed slot").click()
    page.wait_for_url("**/inbox")

    again = work()
    assert again.status == "waiting_human" and again.task_id == first.task_id  # the same task
    page.goto(f"/tasks/{first.task_id}")
    assert "no other slot is free" in page.get_by_test_id("reason").inner_text()
    assert outcome_buttons(page) == ["Rejected", "Postponed"]  # never done without a booking
    assert bookings(demo, "suedexpress") == []


def test_with_no_slot_at_all_the_agent_can_only_postpone_or_reject(
    store: Orchestrator,
    control_room: ControlRoomServer,
    browser: Any,
    work: Any,
    demo: DemoApps,
    mail_sink: MailSink,
) -> None:
    demo.control("suedexpress", no_slots=True)
    payload = {"order_number": "O-100003", "postal_code": "80331", "email": "lea@example.com"}
    case, _ = store.create_case("delivery_appointment", "ivr:story-2", payload)
    waiting = work()
    assert waiting.status == "waiting_human" and waiting.task_id
    page = agent_on(browser, control_room.url, waiting.task_id)
    assert "No free delivery slot at Sued Express" in page.get_by_test_id("reason").inner_text()
    assert "+49 33 4004137" in page.inner_text("main")  # gathered in the same case
    assert outcome_buttons(page) == ["Rejected", "Postponed"]  # never done without a booking
    page.get_by_label(
        "Note: what you did by hand, or the reason (the customer reads a rejection's reason)"
    ).fill("Sued Express cannot deliver before the order's deadline")
    page.get_by_role("button", name="Rejected", exact=True).click()
    page.wait_for_url("**/inbox")
    rejected = store.get_case(case.id)
    assert rejected.status == "rejected"
    (mail,) = mail_sink.wait_for(1)
    assert "could not be carried out" in str(mail["Subject"])
    assert "Sued Express cannot deliver before the order's deadline" in mail.get_body().get_content()


def test_postponed_without_a_slot_the_robot_tries_again_then_and_books(
    store: Orchestrator, work: Any, demo: DemoApps, mail_sink: MailSink
) -> None:
    demo.control("suedexpress", no_slots=True)
    payload = {"order_number": "O-100003", "postal_code": "80331", "email": "lea@example.com"}
    case, _ = store.create_case("delivery_appointment", "ivr:story-3", payload)
    waiting = work()
    assert waiting.status == "waiting_human" and waiting.task_id
    until = datetime.now(UTC) + timedelta(seconds=2)
    store.resolve_task(waiting.task_id, "max.agent", "postponed", until=until, note="customer is away")
    assert store.get_case(case.id).status == "queued"
    demo.control("suedexpress", no_slots=False)  # slots freed up meanwhile
    assert store.claim_next_case("too-early", 60) is None
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.5)
    done = work()
    assert done.status == "done", done.error  # booked by the robot, no person needed this time
    (booked,) = bookings(demo, "suedexpress")
    assert done.outputs and done.outputs["booking_number"] == booked["booking"]
    (mail,) = mail_sink.wait_for(1)
    assert str(booked["booking"]) in mail.get_body().get_content()
