"""Each outcome of a human task, worked in a real browser through the inbox, all the way to
what the customer reads on the webform's status page and finds in their mailbox."""

from __future__ import annotations

import re
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

pytestmark = pytest.mark.e2e

PASSWORDS = {"anna.agent": "agent-demo-1", "sven.supervisor": "supervisor-demo-1"}
EMAIL = "lena.krause@example.com"


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
        robot="outcome-robot",
        escalate_system_failures=False,
        sleep=lambda seconds: None,
    )

    def work_next() -> Case:
        claim = store.claim_next_case("outcome-robot")
        assert claim is not None, "no case was queued for the robot"
        case = run_claim(store, engine, claim)
        assert case is not None
        return case

    return work_next


def submit(browser: Any, base: str, customer: str, zip_code: str, city: str) -> Any:
    """The customer's browser, on the status page of the address change they sent."""
    page = browser.new_page()
    page.goto(f"{base}/webform/address-change")
    for label, value in (
        ("Customer number", customer),
        ("Street", "Lindenweg"),
        ("House number", "3"),
        ("Postal code", zip_code),
        ("City", city),
        ("E-mail for the confirmation", EMAIL),
    ):
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Send new address").click()
    page.wait_for_url(re.compile(r"/webform/status/"))
    return page


def open_task(browser: Any, base: str, username: str, task_id: str) -> Any:
    context = browser.new_context(base_url=base)
    page = context.new_page()
    page.goto(f"/tasks/{task_id}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/tasks/{task_id}")
    return page


def mails_to_customer(sink: MailSink) -> list[Any]:
    return [m for m in sink.messages if EMAIL in str(m["To"])]


@pytest.mark.parametrize(
    ("outcome", "user", "status", "title", "mail_subject"),
    [
        ("Corrected: back to the robot", "anna.agent", "done", "Done", "address"),
        ("Done by hand", "anna.agent", "done_by_hand", "Done by our team", "is done"),
        ("Rejected", "anna.agent", "rejected", "Not possible", "could not be carried out"),
        ("Postponed", "anna.agent", "waiting_human", "Scheduled", None),
        ("Cancelled", "sven.supervisor", "cancelled", "Cancelled", None),
    ],
)
def test_each_outcome_reaches_the_customer_truthfully(
    store: Orchestrator,
    control_room: ControlRoomServer,
    browser: Any,
    work: Any,
    mail_sink: MailSink,
    outcome: str,
    user: str,
    status: str,
    title: str,
    mail_subject: str | None,
) -> None:
    customer = submit(browser, control_room.url, "C000004", "80331", "Berlin")  # Munich's code
    waiting = work()
    assert waiting.status == "waiting_human" and waiting.task_id
    customer.reload()
    assert customer.get_by_test_id("status").inner_text() == "Being checked"

    page = open_task(browser, control_room.url, user, waiting.task_id)
    assert "postal code 80331 belongs to" in page.get_by_test_id("reason").inner_text()
    assert page.get_by_label("Postal code").input_value() == "80331"  # the case input, to correct
    assert "1 robot run" in page.get_by_test_id("attempts").inner_text()
    buttons = page.get_by_role("region", name="Outcome").get_by_role("button").all_inner_texts()
    assert ("Cancelled" in buttons) == (user == "sven.supervisor")  # agents may not cancel

    if outcome.startswith("Corrected"):
        page.get_by_label("Postal code").fill("10115")
    elif outcome == "Postponed":
        later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT10:00")
        # The agent's own clock: the server's time zone (Europe/Berlin), named on the label.
        page.get_by_label('Continue on (Europe/Berlin, for "Postponed")').fill(later)
    else:
        page.get_by_label(re.compile("^Note")).fill("Talked to Ms Krause: she is moving to Munich instead")
    page.get_by_role("button", name=outcome, exact=True).click()
    page.wait_for_url("**/inbox")

    if outcome.startswith("Corrected"):
        assert work().status == "done"  # the robot checked the corrected address and changed it
    case = store.get_case(waiting.id)
    assert case.status == status
    customer.reload()
    assert customer.get_by_test_id("status").inner_text() == title
    text = customer.inner_text("main")
    if outcome == "Rejected":
        assert "she is moving to Munich instead" in text
    if status != "done":
        assert "in all our systems" not in text  # only a robot's verified done says so
    mails = mails_to_customer(mail_sink)
    if mail_subject is None:
        assert mails == []
    else:
        assert len(mails) == 1 and mail_subject in str(mails[0]["Subject"])


def test_an_unknown_customer_is_said_in_words_and_corrected_in_the_task(
    store: Orchestrator, control_room: ControlRoomServer, browser: Any, work: Any, mail_sink: MailSink
) -> None:
    customer = submit(browser, control_room.url, "C000099", "10115", "Berlin")
    waiting = work()
    assert waiting.status == "waiting_human" and waiting.task_id  # at once: wrong data is not retried
    page = open_task(browser, control_room.url, "anna.agent", waiting.task_id)
    reason = page.get_by_test_id("reason").inner_text()
    assert reason.startswith("The CRM has no customer C000099")
    assert "HTTP" not in reason
    # The agent asked the customer for the right number: the robot runs again with it.
    page.get_by_role("region", name="Outcome").get_by_label("Customer number").fill("C000001")
    page.get_by_role("button", name="Corrected: back to the robot").click()
    page.wait_for_url("**/inbox")
    finished = work()
    assert finished.status == "done" and finished.payload["customer_id"] == "C000001"
    customer.reload()
    assert customer.get_by_test_id("status").inner_text() == "Done"
    assert len(mails_to_customer(mail_sink)) == 1
