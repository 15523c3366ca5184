"""Human tasks: durable gateway, visibility by unit, claim/release/reassign/comment,
complete (checked against the form), return to robot, cancel, SLA escalation, escalation by
hand, callouts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.errors import InvalidTransition, NotFound, PermissionDenied
from orchestrator.humans.tasks import AnswerInvalid
from orchestrator.service import Orchestrator
from robots.engine.runner import Engine
from robots.errors import HumanTaskRequest
from tests.contract.conftest import Clock, new_case, run_next

MUNICH = "max.agent"  # appointments belong to Munich
BERLIN = "anna.agent"
SUPERVISOR = "sven.supervisor"  # Germany: sees both branches


def waiting_case(orch: Orchestrator, engine: Engine) -> tuple[str, str]:
    case = new_case(orch, "ask", payload={"customer": "Lea Weber"})
    stopped = run_next(orch, engine)
    assert stopped.status == "waiting_human" and stopped.task_id
    return case.id, stopped.task_id


def test_the_gateway_is_idempotent_on_the_key(orch: Orchestrator) -> None:
    humans = orch.humans()
    request = HumanTaskRequest(queue="appointments", reason="call", kind="await_human")
    first = humans.create_task(request, case_id=None, run_id="r", key="k-1")  # type: ignore[arg-type]
    assert humans.create_task(request, case_id=None, run_id="r2", key="k-1") == first  # type: ignore[arg-type]
    assert humans.answer_for(first) is None


def test_robot_human_robot_round_trip(orch: Orchestrator, engine: Engine) -> None:
    case_id, task_id = waiting_case(orch, engine)
    task = orch.get_task(task_id, MUNICH)
    assert task.queue == "appointments" and task.data == {"found": "data for Lea Weber"}
    assert task.form[0]["choices"] == ["monday", "tuesday"]
    assert task.due_at == task.created_at + timedelta(minutes=60)  # the queue's SLA
    orch.claim_task(task_id, MUNICH)
    with pytest.raises(AnswerInvalid) as raised:
        orch.complete_task(task_id, MUNICH, {"slot": "sunday"})
    assert "slot" in raised.value.problems[0]
    orch.complete_task(task_id, MUNICH, {"slot": "tuesday", "note": "ring twice"})
    assert orch.get_case(case_id).status == "queued"
    done = run_next(orch, engine)
    assert done.status == "done" and done.outputs == {"slot": "tuesday", "found": "data for Lea Weber"}
    steps = orch.case_timeline(case_id).steps
    assert [s.outcome for s in steps if s.path == "gather"] == ["ok", "restored"]


def test_tasks_are_visible_only_to_their_unit_and_the_units_above(orch: Orchestrator, engine: Engine) -> None:
    _, task_id = waiting_case(orch, engine)
    assert [t.id for t in orch.list_tasks(MUNICH)] == [task_id]
    assert [t.id for t in orch.list_tasks(SUPERVISOR)] == [task_id]
    assert [t.id for t in orch.list_tasks("admin")] == [task_id]
    assert orch.list_tasks(BERLIN) == []
    with pytest.raises(PermissionDenied, match="outside"):
        orch.get_task(task_id, BERLIN)
    with pytest.raises(PermissionDenied):
        orch.claim_task(task_id, BERLIN)


def test_claim_release_reassign_and_comment(orch: Orchestrator, engine: Engine) -> None:
    orch.create_user("moritz.agent", "agent-demo-3", role="agent", unit="munich")
    _, task_id = waiting_case(orch, engine)
    assert orch.claim_task(task_id, MUNICH).assignee == MUNICH
    with pytest.raises(InvalidTransition, match=r"claimed by max\.agent"):
        orch.claim_task(task_id, "moritz.agent")
    with pytest.raises(PermissionDenied, match="held by"):
        orch.complete_task(task_id, "moritz.agent", {"slot": "monday"})
    assert orch.release_task(task_id, MUNICH).status == "open"
    with pytest.raises(PermissionDenied, match="supervisor"):
        orch.reassign_task(task_id, MUNICH, "moritz.agent")
    with pytest.raises(PermissionDenied, match="cannot see"):
        orch.reassign_task(task_id, SUPERVISOR, BERLIN)
    assert orch.reassign_task(task_id, SUPERVISOR, "moritz.agent").assignee == "moritz.agent"
    orch.comment_task(task_id, "moritz.agent", "customer asked for a call after 5 pm")
    actions = [(e.actor, e.action) for e in orch.task_events(task_id)]
    assert actions == [
        ("robot", "created"),
        (MUNICH, "claimed"),
        (MUNICH, "released"),
        (SUPERVISOR, "reassigned"),
        ("moritz.agent", "comment"),
    ]


def test_an_escalation_returned_to_the_robot_goes_on_after_the_escalate_step(
    orch: Orchestrator, engine: Engine
) -> None:
    case = new_case(orch, "implausible")
    stopped = run_next(orch, engine)
    assert stopped.status == "waiting_human"
    task = orch.get_task(stopped.task_id or "", BERLIN)
    assert task.queue == "address_review" and task.origin == "escalate"
    orch.return_to_robot(task.id, BERLIN, comment="checked with the customer: the address is right")
    assert orch.get_case(case.id).status == "queued"
    done = run_next(orch, engine)
    assert done.status == "done" and done.outputs == {"went_on": True}


def test_completing_an_escalation_records_work_done_by_hand(orch: Orchestrator, engine: Engine) -> None:
    case = new_case(orch, "bad_data")
    task_id = run_next(orch, engine).task_id or ""
    with pytest.raises(AnswerInvalid, match="say what you did"):
        orch.complete_task(task_id, BERLIN, {})  # "Complete" alone is no effect anybody recorded
    assert orch.get_case(case.id).status == "waiting_human"
    orch.complete_task(task_id, BERLIN, {"note": "customer created in the CRM by hand"})
    resolved = orch.get_case(case.id)
    assert resolved.status == "done_by_hand"  # never a robot's "done"
    assert resolved.outputs is not None and resolved.outputs["note"] == "customer created in the CRM by hand"


def test_cancelling_a_task_cancels_its_case(orch: Orchestrator, engine: Engine) -> None:
    case_id, task_id = waiting_case(orch, engine)
    with pytest.raises(PermissionDenied, match="only a supervisor, ops or admin may cancel"):
        orch.cancel_task(task_id, MUNICH, "customer cancelled the order")
    assert orch.get_case(case_id).status == "waiting_human"
    orch.cancel_task(task_id, SUPERVISOR, "customer cancelled the order")
    assert orch.get_case(case_id).status == "cancelled"
    assert orch.get_task(task_id).status == "cancelled"
    with pytest.raises(InvalidTransition):
        orch.complete_task(task_id, MUNICH, {"slot": "monday"})


def test_overdue_tasks_escalate_to_the_parent_units_queue(
    orch: Orchestrator, engine: Engine, clock: Clock
) -> None:
    _, task_id = waiting_case(orch, engine)
    clock.advance(minutes=59)
    assert orch.escalate_overdue_tasks() == []
    clock.advance(minutes=2)
    (moved,) = orch.escalate_overdue_tasks()
    assert moved.id == task_id and moved.queue == "de_escalations" and moved.escalation_level == 1
    assert moved.breached_at is not None and moved.due_at == clock() + timedelta(minutes=240)
    assert orch.list_tasks(MUNICH) == []  # the country's queue now, above the branch
    assert [t.id for t in orch.list_tasks(SUPERVISOR)] == [task_id]


def test_a_supervisor_escalates_one_task_by_hand_to_the_next_level(
    orch: Orchestrator, engine: Engine, clock: Clock
) -> None:
    _, task_id = waiting_case(orch, engine)
    orch.claim_task(task_id, MUNICH)
    clock.advance(minutes=10)  # still within the 60-minute SLA of appointments
    moved = orch.escalate_task(task_id, SUPERVISOR, "customer threatens to cancel the order")
    assert moved.queue == "de_escalations" and moved.escalation_level == 1
    assert moved.status == "open" and moved.assignee is None  # Munich's agent cannot see it now
    assert moved.due_at == clock() + timedelta(minutes=240) and moved.breached_at is None
    last = orch.task_events(task_id)[-1]
    assert (last.actor, last.action) == (SUPERVISOR, "escalated")
    assert last.detail == (
        "moved from appointments to de_escalations (was claimed by max.agent): "
        "customer threatens to cancel the order"
    )
    assert orch.list_tasks(MUNICH) == []
    with pytest.raises(PermissionDenied):
        orch.get_task(task_id, MUNICH)
    arrival = orch.callouts_since(0, username=SUPERVISOR)[-1]
    assert arrival.task_id == task_id and arrival.queue == "de_escalations"
    assert arrival.message == "customer threatens to cancel the order"
    # Germany's escalations go to headquarters; headquarters is the top.
    assert orch.escalate_task(task_id, SUPERVISOR, "needs a decision").queue == "hq_escalations"
    with pytest.raises(PermissionDenied, match="outside"):
        orch.escalate_task(task_id, SUPERVISOR, "again")
    with pytest.raises(InvalidTransition, match="top of its escalation path"):
        orch.escalate_task(task_id, "admin", "even higher")
    assert orch.get_task(task_id).escalation_level == 2


def test_only_a_supervisor_of_the_tasks_unit_may_escalate_it_and_only_with_a_reason(
    orch: Orchestrator, engine: Engine, clock: Clock
) -> None:
    _, task_id = waiting_case(orch, engine)
    with pytest.raises(PermissionDenied, match="only a supervisor or admin may escalate"):
        orch.escalate_task(task_id, MUNICH, "too hard")
    orch.create_user("bea.supervisor", "supervisor-demo-2", role="supervisor", unit="berlin")
    with pytest.raises(PermissionDenied, match="outside"):
        orch.escalate_task(task_id, "bea.supervisor", "not my branch")
    with pytest.raises(ValueError, match="say why"):
        orch.escalate_task(task_id, SUPERVISOR, "  ")
    with pytest.raises(NotFound):
        orch.escalate_task("t-nothing", SUPERVISOR, "no such task")
    assert orch.get_task(task_id).queue == "appointments"
    assert [e.action for e in orch.task_events(task_id)] == ["created"]
    clock.advance(minutes=61)  # past its due time: escalating by hand records the breach too
    before = orch.get_task(task_id)
    moved = orch.escalate_task(task_id, "admin", "overdue and urgent")
    assert moved.breached_at == before.due_at
    orch.cancel_task(task_id, SUPERVISOR, "customer withdrew")
    with pytest.raises(InvalidTransition, match="only open or claimed"):
        orch.escalate_task(task_id, SUPERVISOR, "too late")


def test_the_sla_rule_and_the_hand_take_the_same_path(
    orch: Orchestrator, engine: Engine, clock: Clock
) -> None:
    assert orch.escalation_targets() == {
        "appointments": "de_escalations",
        "appointment_exceptions": "de_escalations",
        "address_review": "de_escalations",
        "address_exceptions": "de_escalations",
        "de_escalations": "hq_escalations",
        "exceptions": "hq_escalations",
        "assist": "hq_escalations",
    }
    _, by_hand = waiting_case(orch, engine)
    _, overdue = waiting_case(orch, engine)
    orch.escalate_task(by_hand, SUPERVISOR, "why not")
    clock.advance(minutes=61)
    (moved,) = orch.escalate_overdue_tasks()
    assert moved.id == overdue
    assert orch.get_task(by_hand).queue == orch.get_task(overdue).queue == "de_escalations"
    assert [(e.actor, e.action) for e in orch.task_events(overdue)][-1] == ("sla", "escalated")
    assert orch.task_events(overdue)[-1].detail == "overdue in appointments, moved to de_escalations"


def test_callouts_are_stored_and_read_since_an_id_by_who_may_see_them(
    orch: Orchestrator, engine: Engine
) -> None:
    assert orch.callouts_since(0) == []
    _, task_id = waiting_case(orch, engine)
    callouts = orch.callouts_since(0, username=MUNICH)
    assert [c.kind for c in callouts] == ["callout", "task"]
    assert callouts[0].title == "Call Lea Weber" and callouts[0].data == {"found": "data for Lea Weber"}
    assert callouts[1].task_id == task_id
    assert orch.callouts_since(callouts[0].id, username=MUNICH) == callouts[1:]
    assert orch.callouts_since(0, username=BERLIN) == []


def test_an_agent_can_create_a_task_by_hand_in_their_own_units_queues(orch: Orchestrator) -> None:
    task = orch.create_manual_task(BERLIN, "address_review", "customer called back", data={"phone": "123"})
    assert task.origin == "manual" and task.status == "open"
    with pytest.raises(PermissionDenied):
        orch.create_manual_task(BERLIN, "appointments", "not my queue")
