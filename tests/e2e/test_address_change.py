"""address_change end to end: CRM, billing and the green-screen host changed, verified, mail sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.mail_sink import MailSink
from demo.server import DemoApps
from tests.e2e.conftest import Robot

pytestmark = pytest.mark.e2e


def terminal_audit(robot_env: dict[str, str]) -> list[dict[str, object]]:
    path = Path(robot_env["TANDEM_DEMO_DATA"]) / "host.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def changes(entries: list[dict[str, object]], customer: str) -> list[dict[str, object]]:
    return [e for e in entries if e["action"] == "address_changed" and e["entity"] == customer]


def test_happy_path_changes_every_system_once_and_mails_the_customer(
    robot: Robot, demo: DemoApps, mail_sink: MailSink, robot_env: dict[str, str]
) -> None:
    case = {
        "customer_id": "C000002",
        "street": "Jungfernstieg 1",
        "postal_code": "20354",
        "city": "Hamburg",
        "email": "jonas.mueller@example.com",
    }
    record = robot.run("address_change", case)
    assert record.status == "done", record.error
    wanted = {"street": "Jungfernstieg 1", "postal_code": "20354", "city": "Hamburg"}
    assert [e["after"] for e in changes(demo.audit("crm"), "C000002")] == [wanted]
    assert [e["after"] for e in changes(demo.audit("billing"), "C000002")] == [wanted]
    assert [e["after"] for e in changes(terminal_audit(robot_env), "C000002")] == [wanted]
    (mail,) = mail_sink.wait_for(1)
    assert mail["To"] == "jonas.mueller@example.com"
    assert (
        "Jungfernstieg 1" in mail.get_body().get_content()
        and "Dear Jonas Müller" in mail.get_body().get_content()
    )

    again = robot.run("address_change", case)  # the same case once more: nothing is written twice
    assert again.status == "done", again.error
    assert len(changes(demo.audit("crm"), "C000002")) == 1
    assert len(changes(demo.audit("billing"), "C000002")) == 1
    assert len(changes(terminal_audit(robot_env), "C000002")) == 1


def test_an_implausible_address_goes_to_a_human_and_touches_nothing(robot: Robot, demo: DemoApps) -> None:
    record = robot.run(
        "address_change",
        {"customer_id": "C000003", "street": "Marienplatz 8", "postal_code": "20095", "city": "München"},
    )
    assert record.status == "escalated"
    task = robot.humans.tasks[record.task_id]
    assert task.request.queue == "address_review"
    assert task.request.reason == "postal code 20095 belongs to Hamburg, not München"
    assert changes(demo.audit("crm"), "C000003") == []


def test_an_app_that_is_down_is_retried_then_handed_over(robot: Robot, demo: DemoApps) -> None:
    demo.control("billing", down=True)
    record = robot.run(
        "address_change",
        {"customer_id": "C000004", "street": "Breite Straße 2", "postal_code": "50667", "city": "Köln"},
    )
    assert record.status == "failed_system"
    assert record.error_step.startswith("billing") and "HTTP 503" in record.error
    billing_attempts = [s for s in record.steps if s.path == "billing"]
    assert [s.outcome for s in billing_attempts] == ["retrying", "retrying", "failed"]
    assert any(path.endswith(".png") for path in billing_attempts[-1].artifacts)
    assert robot.humans.tasks[record.task_id].request.queue == "address_exceptions"
    assert len(changes(demo.audit("crm"), "C000004")) == 1  # done before billing failed; a re-run skips it


def test_a_changed_screen_is_a_system_exception_that_says_what_the_page_has(
    robot: Robot, demo: DemoApps
) -> None:
    demo.control("crm", markup="v2")
    record = robot.run(
        "address_change",
        {"customer_id": "C000005", "street": "Zeil 1", "postal_code": "60313", "city": "Frankfurt am Main"},
    )
    assert record.status == "failed_system"
    assert "no element role='button' name='Edit address'" in record.error
    assert "'Change address'" in record.error
    assert changes(demo.audit("crm"), "C000005") == []
