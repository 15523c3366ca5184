"""delivery_appointment, appointment_failed and customer_assist end to end."""

from __future__ import annotations

import httpx
import pytest

from connectors.mail_sink import MailSink
from demo.data import LOGINS
from demo.server import DemoApps
from tests.e2e.conftest import Robot

pytestmark = pytest.mark.e2e

NORTH = {
    "order_number": "O-100002",
    "postal_code": "20095",
    "name": "Jonas Müller",
    "email": "jonas@example.com",
}
SOUTH = {"order_number": "O-100003", "postal_code": "80331", "name": "Lea Weber", "email": "lea@example.com"}


def bookings(demo: DemoApps, portal: str) -> list[dict[str, object]]:
    return [entry["after"] for entry in demo.audit(portal) if entry["action"] == "slot_booked"]  # type: ignore[misc]


def book_through_the_portal(demo: DemoApps, portal: str, order: str, postal_code: str, slot: str) -> None:
    """Someone else books ``slot`` ("2026-11-25 08:00-12:00") for another order, through the
    portal's own login and booking form."""
    day, window = slot.split(" ")
    ((user, password),) = LOGINS[portal].items()
    with httpx.Client(base_url=demo.urls[portal], timeout=10, follow_redirects=True) as browser:
        assert "Log out" in browser.post("/login", data={"user": user, "password": password}).text
        if portal == "nordlog":
            form = {"order": order, "postal_code": postal_code, "day": day, "window": window}
            browser.post("/book", data=form).raise_for_status()
        else:
            form = {"order": order, "zip": postal_code, "slot": f"{day}|{window}", "confirmed": "yes"}
            browser.post("/booking", data=form).raise_for_status()


def test_a_northern_postal_code_is_booked_at_nordlogistik(
    robot: Robot, demo: DemoApps, mail_sink: MailSink
) -> None:
    record = robot.run("delivery_appointment", NORTH)
    assert record.status == "done", record.error
    (booked,) = bookings(demo, "nordlog")
    assert record.outputs["booking_number"] == booked["booking"] and record.outputs["supplier"] == "nordlog"
    assert bookings(demo, "suedexpress") == []
    (mail,) = mail_sink.wait_for(1)
    assert mail["Subject"] == f"Your delivery appointment on {booked['date']}"
    assert str(booked["booking"]) in mail.get_body(("plain",)).get_content()


def test_a_southern_postal_code_is_booked_at_sued_express(robot: Robot, demo: DemoApps) -> None:
    record = robot.run("delivery_appointment", SOUTH)
    assert record.status == "done", record.error
    (booked,) = bookings(demo, "suedexpress")
    assert record.outputs["booking_number"] == booked["booking"] and str(booked["booking"]).startswith("SX-")


@pytest.mark.parametrize(("case", "portal"), [(NORTH, "nordlog"), (SOUTH, "suedexpress")])
def test_an_expired_portal_session_is_logged_into_again(
    robot: Robot, demo: DemoApps, case: dict[str, str], portal: str
) -> None:
    """The portal sends an expired session to its login page (the workflow's logged_out_url)."""
    assert robot.run("delivery_appointment", case).status == "done"
    logins = sum(1 for entry in demo.audit(portal) if entry["action"] == "login")
    httpx.post(f"{demo.urls[portal]}/_control/expire-sessions").raise_for_status()
    record = robot.run("delivery_appointment", case)
    assert record.status == "done", record.error
    assert sum(1 for entry in demo.audit(portal) if entry["action"] == "login") == logins + 1
    # The same order again: the portal shows its booking, so nothing is booked twice.
    assert len(bookings(demo, portal)) == 1
    assert record.outputs["booking_number"] == bookings(demo, portal)[0]["booking"]


@pytest.mark.parametrize(("case", "portal"), [(NORTH, "nordlog"), (SOUTH, "suedexpress")])
def test_no_free_slot_at_all_offers_the_team_only_postponed_or_rejected(
    robot: Robot, demo: DemoApps, case: dict[str, str], portal: str
) -> None:
    demo.control(portal, no_slots=True)
    record = robot.run("delivery_appointment", case)
    assert record.status == "waiting_human", record.error  # the same case, no follow-up call
    task = robot.humans.tasks[record.task_id]
    assert task.request.queue == "appointments" and "No free delivery slot" in task.request.reason
    # Gathered in the same case: who to call and on which number.
    assert task.request.data["customer"] == case["name"] and task.request.data["phone"].startswith("+49")
    assert task.request.data["free_slots"] == []
    assert set(task.request.outcomes) == {"postponed", "rejected"}  # never done without a booking
    (callout,) = robot.humans.callouts
    assert callout.queue == "appointments" and callout.data["phone"] == task.request.data["phone"]


def test_a_portal_that_is_down_is_retried_then_handed_over(robot: Robot, demo: DemoApps) -> None:
    demo.control("nordlog", down=True)
    record = robot.run("delivery_appointment", NORTH)
    assert record.status == "failed_system" and "HTTP 503" in record.error


def test_a_renamed_button_fails_with_what_the_page_offers(robot: Robot, demo: DemoApps) -> None:
    demo.control("nordlog", markup="v2")
    record = robot.run("delivery_appointment", NORTH)
    assert record.status == "failed_system"
    assert "no element role='button' name='Book " in record.error and "Reserve" in record.error
    assert bookings(demo, "nordlog") == []


def test_appointment_failed_robot_human_robot(robot: Robot, demo: DemoApps, mail_sink: MailSink) -> None:
    case = {
        "customer_id": "C000003",
        "order_number": "O-100003",
        "postal_code": "80331",
        "email": "lea@example.com",
    }
    first = robot.run("appointment_failed", case, case_id="af-1")
    assert first.status == "waiting_human", first.error
    task = robot.humans.tasks[first.task_id]
    assert task.request.queue == "appointments"
    assert task.request.data["phone"] == "+49 33 4004137" and task.request.data["supplier"] == "Sued Express"
    slots = task.request.data["free_slots"]
    assert len(slots) > 3 and task.request.form[0]["choices"] == slots
    (callout,) = robot.humans.callouts
    assert callout.queue == "appointments" and callout.data["phone"] == "+49 33 4004137"

    robot.humans.complete(first.task_id, {"slot": slots[2], "note": "Please ring twice"})
    second = robot.run("appointment_failed", case, case_id="af-1", state=first.state)
    assert second.status == "done", second.error
    (booked,) = bookings(demo, "suedexpress")
    assert f"{booked['date']} {booked['window']}" == slots[2]
    assert [s.outcome for s in second.steps if s.path.endswith(">appointment_gathering.customer")] == [
        "restored"
    ]  # the CRM was not asked again
    (mail,) = mail_sink.wait_for(1)
    body = mail.get_body().get_content()
    assert "Please ring twice" in body and str(booked["booking"]) in body


@pytest.mark.parametrize(
    ("customer", "portal", "competitor"),
    [
        (("C000002", "O-100002", "20095"), "nordlog", ("O-100001", "10115")),
        (("C000003", "O-100003", "80331"), "suedexpress", ("O-100004", "50667")),
    ],
)
def test_a_slot_taken_meanwhile_refreshes_the_same_task(
    robot: Robot,
    demo: DemoApps,
    mail_sink: MailSink,
    customer: tuple[str, str, str],
    portal: str,
    competitor: tuple[str, str],
) -> None:
    customer_id, order, postal_code = customer
    case = {
        "customer_id": customer_id,
        "order_number": order,
        "postal_code": postal_code,
        "email": "c@example.com",
    }
    first = robot.run("appointment_failed", case, case_id="af-taken")
    assert first.status == "waiting_human", first.error
    offered = robot.humans.tasks[first.task_id].request.data["free_slots"]
    agreed = offered[1]

    book_through_the_portal(demo, portal, *competitor, agreed)  # while the agent is on the phone
    robot.humans.complete(first.task_id, {"slot": agreed})
    second = robot.run("appointment_failed", case, case_id="af-taken", state=first.state)

    # The same task is in front of the agent again, with the slots that are free now.
    assert second.status == "waiting_human", second.error
    assert second.task_id == first.task_id
    assert [s.outcome for s in second.steps if s.outcome in ("retrying", "failed")] == []
    task = robot.humans.tasks[second.task_id]
    assert task.status == "open" and task.request.kind == "await_human"
    assert (
        task.request.reason.startswith(f"Slot {agreed} at ") and "was taken meanwhile" in task.request.reason
    )
    assert task.request.data["taken_slot"] == agreed
    fresh = [slot for slot in offered if slot != agreed]
    assert task.request.data["free_slots"] == fresh and task.request.form[0]["choices"] == fresh
    (taken,) = bookings(demo, portal)  # the competitor's booking; none by the robot for this order
    assert taken["order"] == competitor[0]
    assert mail_sink.messages == []

    robot.humans.complete(first.task_id, {"slot": fresh[0]})
    third = robot.run("appointment_failed", case, case_id="af-taken", state=second.state)
    assert third.status == "done", third.error
    assert f"{third.outputs['date']} {third.outputs['window']}" == fresh[0]
    assert len(bookings(demo, portal)) == 2
    (mail,) = mail_sink.wait_for(1)
    assert str(third.outputs["booking_number"]) in mail.get_body().get_content()


def test_customer_assist_pops_up_hints_for_the_agent(robot: Robot, demo: DemoApps) -> None:
    record = robot.run("customer_assist", {"customer_id": "C000005", "agent": "agent.anna"})
    assert record.status == "done", record.error
    (callout,) = robot.humans.callouts
    assert callout.agent == "agent.anna" and callout.level == "alert"
    assert "Pays late: do not offer financing or payment by invoice" in callout.hints
    assert callout.data["phone"] == "+49 35 4006895"
    assert record.outputs["address_mismatch"] is False


def test_customer_assist_warns_when_billing_and_crm_disagree(robot: Robot, demo: DemoApps) -> None:
    demo.apps["billing"].customers["C000007"]["street"] = "Alte Straße 1"
    record = robot.run("customer_assist", {"customer_id": "C000007"})
    assert record.status == "done", record.error
    (callout,) = robot.humans.callouts
    assert callout.message.startswith("Billing address differs from the CRM.")
    assert record.outputs["address_mismatch"] is True


def test_the_other_supplier_s_slots_are_offered_where_the_postal_code_allows(
    robot: Robot, demo: DemoApps, mail_sink: MailSink
) -> None:
    """Bonn is Sued Express's, but NordLogistik delivers there too: with Sued Express fully
    booked, the agent gets NordLogistik's slots in the same task and the robot books there."""
    demo.control("suedexpress", no_slots=True)
    bonn = {"order_number": "O-100015", "postal_code": "53111", "email": "clara@example.com"}
    first = robot.run("delivery_appointment", bonn, case_id="bonn-1")
    assert first.status == "waiting_human", first.error
    task = robot.humans.tasks[first.task_id]
    offered = task.request.data["free_slots"]
    assert offered and all(slot.endswith(" at NordLogistik") for slot in offered)
    assert set(task.request.outcomes) == {"corrected", "postponed", "rejected"}

    robot.humans.complete(first.task_id, {"slot": offered[0]})
    done = robot.run("delivery_appointment", bonn, case_id="bonn-1", state=first.state)
    assert done.status == "done", done.error
    (booked,) = bookings(demo, "nordlog")
    assert f"{booked['date']} {booked['window']} at NordLogistik" == offered[0]
    assert done.outputs["booking_number"] == booked["booking"]
    (mail,) = mail_sink.wait_for(1)
    assert "NordLogistik" in mail.get_body().get_content()
