"""The public webform in a real browser: a customer changes their address and follows the case.

The control room runs with uvicorn on loopback, the customer's browser is real Chromium, and
a robot (the engine with the durable stores, as a worker runs it) works the case against
the demo apps, so the status page the customer reloads shows the real outcome.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from connectors.mail_sink import MailSink
from demo.processes import ControlRoomServer
from demo.server import DemoApps
from orchestrator.service import Orchestrator
from orchestrator.worker.execution import run_claim
from robots.drivers.systems import ByKind
from robots.engine.runner import Engine

pytestmark = pytest.mark.e2e


def fill_form(page: Any, **fields: str) -> None:
    labels = {
        "customer_number": "Customer number",
        "street": "Street",
        "house_number": "House number",
        "zip": "Postal code",
        "city": "City",
        "email": "E-mail for the confirmation",
    }
    for name, value in fields.items():
        page.get_by_label(labels[name], exact=True).fill(value)


def test_a_customer_submits_the_form_and_sees_the_case_finish(
    browser: Any,
    control_room: ControlRoomServer,
    store: Orchestrator,
    robot_sessions: ByKind,
    demo: DemoApps,
    mail_sink: MailSink,
    tmp_path: Path,
) -> None:
    page = browser.new_page()
    page.goto(f"{control_room.url}/webform/address-change")
    fill_form(
        page,
        customer_number="C000001",
        street="Chausseestraße",
        house_number="5",
        zip="10115",
        city="Berlin",
        email="anna.schmidt@example.com",
    )
    sent = {
        name: page.locator(f"input[name={name}]").input_value()
        for name in (
            "csrf_token",
            "submission_id",
            "customer_number",
            "street",
            "house_number",
            "zip",
            "city",
        )
    }
    page.get_by_role("button", name="Send new address").click()
    page.wait_for_url(re.compile(r"/webform/status/c-[0-9a-f]+/[0-9a-f]+$"))
    assert page.get_by_test_id("status").get_attribute("data-status") == "queued"
    assert page.get_by_test_id("status").inner_text() == "Received"

    # The same form sent again (a double click, a retried request) is the same case.
    again = page.request.post(f"{control_room.url}/webform/address-change", form=sent, max_redirects=0)
    assert again.status == 303
    assert page.url.endswith(again.headers["location"])
    cases = store.list_cases(workflow="address_change")
    assert len(cases) == 1 and cases[0].channel == "webform"
    assert cases[0].payload["street"] == "Chausseestraße 5"

    engine = Engine(
        store.project,
        humans=store.humans(),
        systems=robot_sessions,
        artifacts_dir=tmp_path / "artifacts",
        robot="webform-robot",
        escalate_system_failures=False,
        sleep=lambda seconds: None,
    )
    claim = store.claim_next_case("webform-robot")
    assert claim is not None
    finished = run_claim(store, engine, claim)
    assert finished is not None and finished.status == "done", finished and finished.error

    page.reload()
    assert page.get_by_test_id("status").inner_text() == "Done"
    history = page.get_by_role("table", name="History").inner_text()
    assert "Received" in history and "In progress" in history and "Done" in history
    (confirmation,) = [m for m in mail_sink.messages if "anna.schmidt@example.com" in str(m["To"])]
    # The confirmation links to the same status page the webform sent the customer to.
    body = confirmation.get_body(("plain",)).get_content()
    assert f"You can see the state of your request here at any time: {page.url}" in body.splitlines()


def test_a_post_without_the_forms_csrf_token_is_refused(
    browser: Any, control_room: ControlRoomServer, store: Orchestrator
) -> None:
    fields = {"customer_number": "C000002", "street": "Hafenstraße 1", "zip": "20095", "city": "Hamburg"}
    customer = browser.new_page()
    customer.goto(f"{control_room.url}/webform/address-change")
    token = customer.locator("input[name=csrf_token]").get_attribute("value")
    submission = customer.locator("input[name=submission_id]").get_attribute("value")

    # The customer's own browser, but without the hidden token: refused.
    without = customer.request.post(
        f"{control_room.url}/webform/address-change", form={**fields, "submission_id": submission}
    )
    assert without.status == 403
    assert "Open the form again" in without.text()

    # Another site's page posting into the customer's session with a token it got itself:
    # the token belongs to another cookie, so it is refused too.
    attacker = browser.new_context()
    attacker_page = attacker.new_page()
    attacker_page.goto(f"{control_room.url}/webform/address-change")
    stolen = attacker_page.locator("input[name=csrf_token]").get_attribute("value")
    assert stolen != token
    forged = customer.request.post(
        f"{control_room.url}/webform/address-change",
        form={**fields, "submission_id": submission, "csrf_token": stolen},
    )
    assert forged.status == 403
    attacker.close()
    assert store.list_cases(workflow="address_change") == []

    accepted = customer.request.post(
        f"{control_room.url}/webform/address-change",
        form={**fields, "submission_id": submission, "csrf_token": token},
        max_redirects=0,
    )
    assert accepted.status == 303
    assert len(store.list_cases(workflow="address_change")) == 1


def test_problems_are_shown_at_their_fields_and_markup_stays_text(
    browser: Any, control_room: ControlRoomServer, store: Orchestrator
) -> None:
    page = browser.new_page()
    page.goto(f"{control_room.url}/webform/address-change")
    fill_form(
        page, customer_number="<img src=x onerror=alert(1)>", street="Am Markt 1", zip="28195", email="nope"
    )
    page.get_by_role("button", name="Send new address").click()
    alert = page.get_by_role("alert")
    assert "city" in alert.inner_text()
    assert page.locator("#city-problem").is_visible()
    assert "name@example.com" in page.locator("#email-problem").inner_text()
    assert page.locator("img").count() == 0  # the markup was not rendered
    assert page.get_by_label("Customer number").input_value() == "<img src=x onerror=alert(1)>"

    fill_form(page, city="Bremen", email="")
    page.get_by_role("button", name="Send new address").click()
    assert "C and six digits" in page.locator("#customer_number-problem").inner_text()
    assert store.list_cases(workflow="address_change") == []
