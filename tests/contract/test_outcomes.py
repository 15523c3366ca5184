"""Outcomes of human tasks: each one's meaning for the case and for the customer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.errors import InvalidTransition, PermissionDenied
from orchestrator.humans.outcomes import offered_outcomes
from orchestrator.humans.tasks import AnswerInvalid
from orchestrator.service import Orchestrator
from robots.engine.runner import Engine
from tests.contract.conftest import Clock, new_case, run_next

BERLIN = "anna.agent"  # address_review, address_exceptions
MUNICH = "max.agent"  # appointments
SUPERVISOR = "sven.supervisor"


def implausible(orch: Orchestrator, engine: Engine) -> tuple[str, str]:
    case = new_case(orch, "checked_address", payload={"postal_code": "80331", "city": "Berlin"})
    stopped = run_next(orch, engine)
    assert stopped.status == "waiting_human" and stopped.task_id
    return case.id, stopped.task_id


def test_corrected_input_is_checked_with_every_problem_at_once(orch: Orchestrator, engine: Engine) -> None:
    case_id, task_id = implausible(orch, engine)
    fields = {f["name"]: f["value"] for f in orch.correction_fields(orch.get_task(task_id))}
    assert fields == {"postal_code": "80331", "city": "Berlin", "email": ""}
    with pytest.raises(AnswerInvalid) as raised:
        orch.resolve_task(task_id, BERLIN, "corrected", corrected_input={"postal_code": "1O115", "city": "B"})
    assert len(raised.value.problems) == 2
    assert {p.split(":")[0] for p in raised.value.problems} == {"postal_code", "city"}
    assert orch.get_case(case_id).payload["postal_code"] == "80331"  # nothing changed


def test_corrected_input_goes_back_to_the_robot_from_the_first_step(
    orch: Orchestrator, engine: Engine
) -> None:
    case_id, task_id = implausible(orch, engine)
    orch.resolve_task(task_id, BERLIN, "corrected", corrected_input={"postal_code": "10115"})
    case = orch.get_case(case_id)
    assert case.status == "queued" and case.payload["postal_code"] == "10115"
    done = run_next(orch, engine)
    # The plausibility check ran again on the corrected input, and passed.
    assert done.status == "done" and done.outputs == {"changed_to": "10115 Berlin"}
    task = orch.get_task(task_id)
    assert task.outcome == "corrected" and task.status == "returned"


def test_done_by_hand_is_a_final_state_of_its_own(orch: Orchestrator, engine: Engine) -> None:
    case_id, task_id = implausible(orch, engine)
    orch.resolve_task(task_id, BERLIN, "done_by_hand", note="changed in CRM and billing by hand")
    case = orch.get_case(case_id)
    assert case.status == "done_by_hand" and case.finished_at is not None
    assert case.outputs is not None
    assert case.outputs["customer"]["title"] == "Done by our team"
    assert orch.get_task(task_id).outcome_note == "changed in CRM and billing by hand"


def test_rejected_needs_a_reason_and_the_customer_reads_it(orch: Orchestrator, engine: Engine) -> None:
    case_id, task_id = implausible(orch, engine)
    with pytest.raises(AnswerInvalid, match="say why"):
        orch.resolve_task(task_id, BERLIN, "rejected")
    orch.resolve_task(task_id, BERLIN, "rejected", note="the street does not exist in Berlin")
    case = orch.get_case(case_id)
    assert case.status == "rejected"
    assert case.outputs is not None
    assert case.outputs["customer"]["text"] == (
        "We could not carry out your request: the street does not exist in Berlin"
    )


def test_postponed_goes_back_into_the_queue_at_a_time(
    orch: Orchestrator, engine: Engine, clock: Clock
) -> None:
    case_id, task_id = implausible(orch, engine)
    orch.claim_task(task_id, BERLIN)
    with pytest.raises(AnswerInvalid, match="future"):
        orch.resolve_task(task_id, BERLIN, "postponed", until=clock() - timedelta(hours=1))
    until = clock() + timedelta(days=1)
    task = orch.resolve_task(task_id, BERLIN, "postponed", until=until, note="call back tomorrow 10:00")
    assert task.status == "open" and task.assignee is None and task.available_at == until
    assert task.due_at > until
    case = orch.get_case(case_id)
    assert case.status == "waiting_human"
    assert case.outputs is not None and case.outputs["customer"]["title"] == "Scheduled"
    # Due again later, so the SLA rule does not move it before then.
    clock.advance(hours=2)
    assert orch.escalate_overdue_tasks() == []


def test_a_postponed_task_waits_for_its_time_then_pops_up_in_its_queue_once(
    orch: Orchestrator, engine: Engine, clock: Clock
) -> None:
    _, task_id = implausible(orch, engine)
    orch.claim_task(task_id, BERLIN)
    until = clock() + timedelta(hours=3)
    orch.resolve_task(task_id, BERLIN, "postponed", until=until, note="call back at noon")
    before = orch.last_callout_id()

    with pytest.raises(InvalidTransition, match="postponed until 2030-01-07 12:00 UTC"):
        orch.claim_task(task_id, BERLIN)
    assert orch.get_task(task_id).status == "open"  # nothing changed
    clock.advance(hours=2, minutes=59)
    assert orch.announce_postponed_tasks() == []
    assert orch.callouts_since(before) == []

    clock.advance(minutes=1)
    [announced] = orch.announce_postponed_tasks()
    assert announced.id == task_id and announced.available_at is None
    [popup] = orch.callouts_since(before)
    assert (popup.kind, popup.queue, popup.task_id) == ("task", "address_review", task_id)
    assert popup.title == f"Postponed task {task_id} is due now"
    assert orch.announce_postponed_tasks() == []  # once, however often it is asked
    assert orch.task_events(task_id)[-1].action == "due_again"
    assert orch.claim_task(task_id, BERLIN).assignee == BERLIN


def test_only_supervisors_ops_and_admins_cancel(orch: Orchestrator, engine: Engine) -> None:
    case_id, task_id = implausible(orch, engine)
    assert "cancelled" not in offered_outcomes(orch.get_task(task_id), "agent")
    with pytest.raises(PermissionDenied):
        orch.resolve_task(task_id, BERLIN, "cancelled", note="customer withdrew")
    assert orch.get_case(case_id).status == "waiting_human"
    orch.resolve_task(task_id, SUPERVISOR, "cancelled", note="customer withdrew")
    assert orch.get_case(case_id).status == "cancelled"


def test_a_step_offers_only_the_outcomes_it_declares(orch: Orchestrator, engine: Engine) -> None:
    case = new_case(orch, "no_slot")
    task_id = run_next(orch, engine).task_id or ""
    task = orch.get_task(task_id)
    assert offered_outcomes(task, "agent") == ["rejected", "postponed"]
    with pytest.raises(InvalidTransition, match="does not offer 'done_by_hand'"):
        orch.resolve_task(task_id, MUNICH, "done_by_hand", note="booked")
    orch.resolve_task(task_id, MUNICH, "rejected", note="fully booked for six weeks")
    rejected = orch.get_case(case.id)
    assert rejected.status == "rejected"
    assert rejected.outputs is not None
    assert rejected.outputs["customer"]["text"] == "No supplier can deliver: fully booked for six weeks"


def test_postponed_for_a_robot_runs_the_case_again_then_and_brings_back_the_same_task(
    orch: Orchestrator, engine: Engine, clock: Clock
) -> None:
    case = new_case(orch, "no_slot")
    task_id = run_next(orch, engine).task_id or ""
    until = clock() + timedelta(days=1)
    orch.resolve_task(task_id, MUNICH, "postponed", until=until, note="call back tomorrow")
    waiting = orch.get_case(case.id)
    assert waiting.status == "queued" and waiting.not_before == until
    assert waiting.outputs is not None and waiting.outputs["customer"]["title"] == "Scheduled"
    assert orch.claim_next_case("robot-1", 60) is None  # not before the time given
    clock.advance(days=1, minutes=1)
    again = run_next(orch, engine)
    assert again.status == "waiting_human" and again.task_id == task_id  # the same task
    task = orch.get_task(task_id)
    assert task.status == "open" and task.outcome is None and task.available_at is None
    assert [e.action for e in orch.task_events(task_id)][-2:] == ["postponed", "reopened"]


def test_a_slot_taken_round_after_round_comes_back_in_the_same_task(
    orch: Orchestrator, engine: Engine
) -> None:
    case = new_case(orch, "rebook")
    task_id = run_next(orch, engine).task_id or ""
    for taken in ("taken-1", "taken-2"):
        orch.resolve_task(task_id, MUNICH, "corrected", answer={"slot": taken})
        again = run_next(orch, engine)
        assert again.status == "waiting_human" and again.task_id == task_id
        task = orch.get_task(task_id)
        assert task.reason == f"{taken} was taken: agree another" and task.status == "claimed"
        assert task.assignee == MUNICH  # back to the agent who has the customer on the line
    orch.resolve_task(task_id, MUNICH, "corrected", answer={"slot": "free-3"})
    done = run_next(orch, engine)
    assert done.status == "done" and done.outputs == {"slot": "free-3"}
    assert [t.id for t in orch.case_timeline(case.id).tasks] == [task_id]
    events = [e.action for e in orch.task_events(task_id)]
    assert events.count("reopened") == 2


def test_a_step_reopens_a_task_once_a_resumed_run_keeps_the_answer(
    orch: Orchestrator, engine: Engine
) -> None:
    from dataclasses import replace

    from robots.errors import HumanTaskRequest

    new_case(orch, "rebook")
    task_id = run_next(orch, engine).task_id or ""
    orch.resolve_task(task_id, MUNICH, "corrected", answer={"slot": "taken-1"})
    request = HumanTaskRequest(
        queue="appointments",
        reason="taken: agree another",
        step="taken[0].again.ask_again",
        kind="await_human",
    )
    orch.reopen_task(task_id, request)
    orch.resolve_task(task_id, MUNICH, "corrected", answer={"slot": "free-2"})
    # A robot killed before its checkpoint recorded the reopening reaches the step again.
    orch.reopen_task(task_id, request)
    task = orch.get_task(task_id)
    assert task.status == "completed" and orch.answer_for(task_id) == {"slot": "free-2"}
    orch.reopen_task(task_id, replace(request, step="taken[1].again.ask_again"))
    assert orch.get_task(task_id).status == "claimed"  # the next round's step does reopen it


class _Killed(BaseException):
    """The robot's process dies here (kill -9): nothing after this point of its run happens."""


def test_a_robot_killed_right_after_reopening_a_task_loses_no_answer(
    orch: Orchestrator, engine: Engine, clock: Clock
) -> None:
    from orchestrator.queue.runtime import DurableHumans
    from orchestrator.worker.execution import run_claim
    from robots.errors import HumanTaskRequest

    class DiesAfterReopening(DurableHumans):
        def reopen_task(self, task_id: str, request: HumanTaskRequest) -> None:
            super().reopen_task(task_id, request)
            raise _Killed()  # before the run's checkpoint records that it reopened the task

    case = new_case(orch, "rebook")
    task_id = run_next(orch, engine).task_id or ""
    orch.resolve_task(task_id, MUNICH, "corrected", answer={"slot": "taken-1"})
    dying = Engine(
        orch.project, humans=DiesAfterReopening(orch, actor="robot-2"), escalate_system_failures=False
    )
    claim = orch.claim_next_case("robot-2", 60)
    assert claim is not None
    with pytest.raises(_Killed):
        run_claim(orch, dying, claim)
    assert orch.get_task(task_id).status == "claimed"  # in front of the agent again
    # The agent answers while the dead robot's lease runs out; another robot takes the case on.
    orch.resolve_task(task_id, MUNICH, "corrected", answer={"slot": "free-2"})
    clock.advance(seconds=61)
    done = run_next(orch, engine)
    assert done.status == "done" and done.outputs == {"slot": "free-2"}
    assert [t.id for t in orch.case_timeline(case.id).tasks] == [task_id]
    assert [e.action for e in orch.task_events(task_id)].count("reopened") == 1
