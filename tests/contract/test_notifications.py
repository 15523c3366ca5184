"""The notification tray and the live pages' change marks, on every backend: who finds
which callouts, for how long, read or unread; the marks move with every kind of change."""

from __future__ import annotations

from orchestrator.service import Orchestrator
from robots.engine.human_gateway import Callout
from robots.errors import HumanTaskRequest
from tests.contract.conftest import Clock

MUNICH = "max.agent"  # appointments belong to Munich
BERLIN = "anna.agent"
SUPERVISOR = "sven.supervisor"  # Germany: sees both branches


def titles(orch: Orchestrator, username: str) -> list[str]:
    return [n.callout.title for n in orch.notifications_for(username)]


def test_the_tray_holds_what_the_user_may_see_while_it_matters(orch: Orchestrator, clock: Clock) -> None:
    orch.push_callout(Callout(title="slots", queue="appointments"))
    orch.push_callout(Callout(title="for anna", queue="assist", agent=BERLIN))
    request = HumanTaskRequest(queue="appointments", reason="call back", step="s")
    task_id = orch.create_task(request, case_id=None, run_id=None, key="tray:1")

    assert [n.callout.kind for n in orch.notifications_for(MUNICH)] == ["task", "callout"]  # newest first
    assert "slots" in titles(orch, MUNICH) and "for anna" not in titles(orch, MUNICH)
    assert titles(orch, BERLIN) == ["for anna"]
    assert "slots" in titles(orch, SUPERVISOR)

    clock.advance(hours=9)  # a callout matters for 8 hours; a task arrival while it is open
    assert [n.task_id for n in orch.notifications_for(MUNICH)] == [task_id]
    orch.resolve_task(task_id, SUPERVISOR, "rejected", note="withdrawn")
    assert orch.notifications_for(MUNICH) == []


def test_read_marks_are_per_user(orch: Orchestrator) -> None:
    first = orch.push_callout(Callout(title="one", queue="appointments"))
    orch.push_callout(Callout(title="two", queue="appointments"))
    assert orch.mark_notifications_read(MUNICH, [first]) == 1
    assert orch.mark_notifications_read(MUNICH, [first]) == 0  # already read
    assert {n.callout.title: n.read for n in orch.notifications_for(MUNICH)} == {"one": True, "two": False}
    assert all(not n.read for n in orch.notifications_for(SUPERVISOR))
    assert orch.mark_notifications_read(BERLIN, [first]) == 0  # not Berlin's to read
    assert orch.mark_notifications_read(MUNICH) == 1
    assert all(n.read for n in orch.notifications_for(MUNICH))


def test_a_data_callout_leads_to_its_case_open_task(orch: Orchestrator) -> None:
    case, _ = orch.create_case("noop", "tray-case", {})
    orch.push_callout(Callout(title="data", queue="appointments", case_id=case.id))
    assert orch.notifications_for(MUNICH)[0].task_id is None
    request = HumanTaskRequest(queue="appointments", reason="agree a slot", step="s")
    task_id = orch.create_task(request, case_id=case.id, run_id="r", key="tray:case")
    data = next(n for n in orch.notifications_for(MUNICH) if n.callout.title == "data")
    assert data.task_id == task_id
    assert "data" not in titles(orch, BERLIN)


def test_change_marks_move_with_each_kind_of_change(orch: Orchestrator) -> None:
    start = orch.change_marks()
    case, _ = orch.create_case("noop", "marks", {})
    after_case = orch.change_marks()
    assert "cases" in after_case.changed_since(start)
    request = HumanTaskRequest(queue="appointments", reason="r", step="s")
    orch.create_task(request, case_id=case.id, run_id="r", key="marks:1")
    assert {"tasks", "callouts"} <= set(orch.change_marks().changed_since(after_case))
    before_robot = orch.change_marks()
    orch.register_robot("vm#2", host="vm2", pid=1)
    assert orch.change_marks().changed_since(before_robot) == ["robots"]
