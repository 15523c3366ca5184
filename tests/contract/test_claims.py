"""Claims and runs: order, leases, heartbeats, reclaiming, checkpoints, retries, outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.errors import LeaseLost
from orchestrator.models import ClaimRequest
from orchestrator.service import Orchestrator
from orchestrator.worker.execution import run_claim, run_claim_and_claim_next
from robots.engine.records import RunRecord, RunState, StepRecord
from robots.engine.runner import Engine
from tests.contract.conftest import Clock, new_case, run_next


def test_claims_go_by_priority_then_deadline_then_age(orch: Orchestrator, clock: Clock) -> None:
    oldest = new_case(orch, reference="oldest")
    clock.advance(seconds=1)
    urgent = new_case(orch, reference="urgent", priority=10)
    clock.advance(seconds=1)
    due_soon = new_case(orch, reference="due-soon", deadline=clock() + timedelta(hours=1))
    clock.advance(seconds=1)
    due_later = new_case(orch, reference="due-later", deadline=clock() + timedelta(hours=5))
    clock.advance(seconds=1)
    youngest = new_case(orch, reference="youngest")
    order = []
    while (claim := orch.claim_next_case("robot-1", 60)) is not None:
        order.append(claim.case.id)
    assert order == [urgent.id, due_soon.id, due_later.id, oldest.id, youngest.id]


@pytest.mark.parametrize("workflows", [None, ["noop"], ["address_like", "noop"]])
def test_an_expired_lease_competes_with_queued_cases_in_the_same_order(
    orch: Orchestrator, clock: Clock, workflows: list[str] | None
) -> None:
    middle = new_case(orch, reference="middle", priority=5)
    taken = orch.claim_next_case("robot-1", 30, workflows=workflows)
    assert taken is not None and taken.case.id == middle.id
    clock.advance(seconds=31)  # robot-1 died: its case is claimable again, at priority 5
    new_case(orch, reference="low", priority=1)
    new_case(orch, reference="high", priority=9)
    new_case(orch, "flaky", reference="other-workflow", priority=7)
    order = []
    while (claim := orch.claim_next_case("robot-2", 60, workflows=workflows)) is not None:
        order.append((claim.case.reference, claim.reclaimed))
    expected = [("high", False), ("middle", True), ("low", False)]
    if workflows is None:
        expected.insert(1, ("other-workflow", False))
    assert order == expected


def test_not_before_postpones_a_case(orch: Orchestrator, clock: Clock) -> None:
    new_case(orch, not_before=clock() + timedelta(minutes=10))
    assert orch.claim_next_case("robot-1", 60) is None
    clock.advance(minutes=10)
    assert orch.claim_next_case("robot-1", 60) is not None


def test_an_expired_lease_is_claimed_again_with_the_attempt_raised(orch: Orchestrator, clock: Clock) -> None:
    case = new_case(orch)
    first = orch.claim_next_case("robot-1", 30)
    assert first is not None and first.attempt == 1 and not first.reclaimed
    assert orch.claim_next_case("robot-2", 30) is None  # leased
    clock.advance(seconds=20)
    orch.heartbeat(first, 30)  # extends to t+50
    clock.advance(seconds=20)
    assert orch.claim_next_case("robot-2", 30) is None
    clock.advance(seconds=31)
    second = orch.claim_next_case("robot-2", 30)
    assert second is not None and second.case.id == case.id and second.attempt == 2 and second.reclaimed
    with pytest.raises(LeaseLost, match="no longer holds"):
        orch.heartbeat(first, 30)
    timeline = orch.case_timeline(case.id)
    assert [r.status for r in timeline.runs] == ["lost", "running"]
    assert any("lease of robot robot-1 expired" in t.reason for t in timeline.transitions)


def test_a_case_whose_robots_keep_dying_goes_to_a_human(orch: Orchestrator, clock: Clock) -> None:
    # A poison case (say, a page that crashes the browser): every robot that takes it dies.
    poison = new_case(orch, "flaky", reference="poison")
    clock.advance(seconds=1)
    other = new_case(orch, "flaky", reference="other")
    first = orch.claim_next_case("robot-1", 30)
    assert first is not None and first.case.id == poison.id
    for robot in ("robot-2", "robot-3"):
        clock.advance(seconds=31)  # the robot died: its lease runs out
        again = orch.claim_next_case(robot, 30)
        assert again is not None and again.case.id == poison.id and again.reclaimed
    assert orch.get_case(poison.id).failures == 2
    clock.advance(seconds=31)  # the third robot died too: flaky allows 3 attempts
    next_claim = orch.claim_next_case("robot-4", 30)
    assert next_claim is not None and next_claim.case.id == other.id  # not the poison case again
    case = orch.get_case(poison.id)
    assert case.status == "waiting_human" and case.failures == 3 and case.robot_id is None
    task = orch.get_task(case.task_id or "")
    assert task.queue == "exceptions" and task.origin == "failure"
    assert "lease of robot robot-3 expired" in task.reason
    timeline = orch.case_timeline(poison.id)
    assert [r.status for r in timeline.runs] == ["lost", "lost", "lost"]
    assert timeline.transitions[-1].to_status == "waiting_human"
    # Giving up twice changes nothing (another robot's claim did it already).
    assert orch.give_up_lost_case(poison.id).task_id == case.task_id


def test_a_run_is_stored_with_steps_and_outputs(orch: Orchestrator, engine: Engine) -> None:
    case = new_case(orch)
    done = run_next(orch, engine)
    assert done.status == "done" and done.robot_id is None and done.finished_at is not None
    timeline = orch.case_timeline(case.id)
    assert [(t.from_status, t.to_status) for t in timeline.transitions] == [
        (None, "queued"),
        ("queued", "running"),
        ("running", "done"),
    ]
    assert [(s.path, s.outcome) for s in timeline.steps] == [("1", "ok")]
    assert timeline.runs[0].status == "done"


def test_the_hot_path_stores_values_as_the_rest_of_the_store_reads_them(
    orch: Orchestrator, clock: Clock
) -> None:
    # Claim, checkpoint and completion write with prepared statements on SQLite: the values
    # must read back exactly (aware UTC times, JSON, nulls) through the ordinary queries.
    case = new_case(orch)
    orch.register_robot("robot-1", host="here", pid=1)
    claimed_at = clock()
    claim = orch.claim_next_case("robot-1", 45)
    assert claim is not None and claim.case.lease_expires_at == claimed_at + timedelta(seconds=45)
    assert claim.case.created_at == claimed_at and claim.case.not_before is None
    clock.advance(seconds=2)
    step = StepRecord(
        path="1",
        kind="set",
        label="größe <b>",
        started_at=clock(),
        ended_at=clock() + timedelta(milliseconds=250),
        duration_ms=250.0,
        outcome="ok",
        outputs={"x": [1, "ü", None]},
        artifacts=["shot.png"],
    )
    orch.save_checkpoint(claim, RunState(completed={"1": {"x": 1}}), [step])
    clock.advance(seconds=3)
    record = RunRecord(
        run_id=claim.run_id,
        case_id=case.id,
        workflow="noop",
        version="1",
        robot="robot-1",
        status="done",
        started_at=claimed_at,
        ended_at=clock(),
        outputs={"answer": 42, "text": "ok"},
        state=RunState(completed={"1": {"x": 1}}),
    )
    done = orch.finish_run(claim, record)
    assert done.finished_at == clock() and done.outputs == {"answer": 42, "text": "ok"}
    again = orch.get_case(case.id)
    assert again == done
    timeline = orch.case_timeline(case.id)
    assert [t.at for t in timeline.transitions] == [claimed_at, claimed_at, clock()]
    (run,) = timeline.runs
    assert (run.started_at, run.ended_at, run.status, run.error) == (claimed_at, clock(), "done", None)
    (stored,) = timeline.steps
    assert stored.label == "größe <b>" and stored.outputs == {"x": [1, "ü", None]}
    assert stored.started_at == step.started_at and stored.ended_at == step.ended_at
    assert stored.artifacts == ["shot.png"] and stored.duration_ms == 250.0
    (robot,) = orch.list_robots()
    assert (robot.status, robot.case_id, robot.cases_done, robot.heartbeat_at) == ("idle", None, 1, clock())


def test_finishing_a_case_claims_the_robots_next_one_with_it(
    orch: Orchestrator, engine: Engine, clock: Clock
) -> None:
    orch.register_robot("robot-1", host="here", pid=1)
    first = new_case(orch, reference="first")
    clock.advance(seconds=1)
    second = new_case(orch, reference="second")
    new_case(orch, "flaky", reference="other workflow")
    claim = orch.claim_next_case("robot-1", 60, workflows=["noop"])
    assert claim is not None and claim.case.id == first.id
    request = ClaimRequest(lease_seconds=45, workflows=["noop"])

    done, following = run_claim_and_claim_next(orch, engine, claim, next_claim=lambda: request)

    assert done is not None and done.status == "done" and done.robot_id is None
    assert following is not None and following.case.id == second.id and following.attempt == 1
    assert following.case.lease_expires_at == orch.now() + timedelta(seconds=45)
    assert orch.get_case(second.id).status == "running"
    (robot,) = orch.list_robots()
    assert (robot.status, robot.case_id, robot.cases_done) == ("busy", second.id, 1)
    assert [(t.from_status, t.to_status) for t in orch.case_timeline(first.id).transitions][-1] == (
        "running",
        "done",
    )
    assert [(t.from_status, t.to_status) for t in orch.case_timeline(second.id).transitions] == [
        (None, "queued"),
        ("queued", "running"),
    ]
    # The next claim is an ordinary one: it runs, and with nothing of its workflows left
    # queued the robot gets no further claim.
    done, following = run_claim_and_claim_next(orch, engine, following, next_claim=lambda: request)
    assert done is not None and done.status == "done" and following is None
    assert orch.list_robots()[0].status == "idle"
    # Asked for nothing (a robot told to stop), it claims nothing.
    third = new_case(orch, reference="third")
    claim = orch.claim_next_case("robot-1", 60, workflows=["noop"])
    assert claim is not None and claim.case.id == third.id
    fourth = new_case(orch, reference="fourth")
    assert run_claim_and_claim_next(orch, engine, claim)[1] is None
    assert orch.get_case(fourth.id).status == "queued"


def test_a_lost_claim_finishes_nothing_and_claims_nothing(orch: Orchestrator, clock: Clock) -> None:
    case = new_case(orch, reference="first")
    claim = orch.claim_next_case("robot-1", 30)
    assert claim is not None
    clock.advance(seconds=31)
    again = orch.claim_next_case("robot-2", 60)  # robot-1 was taken for dead
    assert again is not None and again.case.id == case.id
    waiting = new_case(orch, reference="waiting")
    record = RunRecord(
        run_id=claim.run_id, case_id=case.id, workflow="noop", version="1", robot="robot-1",
        status="done", started_at=clock(), ended_at=clock(),
    )  # fmt: skip
    with pytest.raises(LeaseLost):
        orch.finish_run_and_claim_next(claim, record, lease_seconds=60)
    assert orch.get_case(waiting.id).status == "queued"
    assert orch.get_case(case.id).robot_id == "robot-2"
    # Nothing of the outcome was written: no audit entry, the lost run stays lost.
    timeline = orch.case_timeline(case.id)
    assert "done" not in [t.to_status for t in timeline.transitions]
    assert [r.status for r in timeline.runs] == ["lost", "running"]


def test_claiming_with_an_outcome_hands_a_case_whose_robots_keep_dying_to_a_human(
    orch: Orchestrator, clock: Clock
) -> None:
    poison = new_case(orch, "flaky", reference="poison", priority=5)
    for robot in ("robot-1", "robot-2", "robot-3"):
        taken = orch.claim_next_case(robot, 30)
        assert taken is not None and taken.case.id == poison.id
        clock.advance(seconds=31)  # the robot died
    other = new_case(orch, "flaky", reference="other")
    working = new_case(orch, reference="working", priority=9)
    claim = orch.claim_next_case("robot-4", 60)
    assert claim is not None and claim.case.id == working.id
    record = RunRecord(
        run_id=claim.run_id, case_id=working.id, workflow="noop", version="1", robot="robot-4",
        status="done", started_at=clock(), ended_at=clock(),
    )  # fmt: skip

    done, following = orch.finish_run_and_claim_next(claim, record, lease_seconds=60)

    assert done.status == "done"
    assert following is not None and following.case.id == other.id
    assert orch.get_case(poison.id).status == "waiting_human"


def test_a_failed_run_also_claims_the_next_case(orch: Orchestrator, engine: Engine) -> None:
    failing = new_case(orch, "flaky", reference="failing", priority=5)
    waiting = new_case(orch, reference="waiting")
    claim = orch.claim_next_case("robot-1", 60)
    assert claim is not None and claim.case.id == failing.id
    request = ClaimRequest(lease_seconds=60)
    failed, following = run_claim_and_claim_next(orch, engine, claim, next_claim=lambda: request)
    assert failed is not None and failed.status == "queued" and failed.failures == 1  # retried later
    assert following is not None and following.case.id == waiting.id


def test_a_system_failure_is_retried_with_growing_backoff_then_escalated(
    orch: Orchestrator, engine: Engine, clock: Clock
) -> None:
    case = new_case(orch, "flaky")
    first = run_next(orch, engine)
    assert (
        first.status == "queued"
        and first.failures == 1
        and first.not_before == clock() + timedelta(seconds=30)
    )
    assert orch.claim_next_case("robot-1", 60) is None  # backing off
    clock.advance(seconds=30)
    second = run_next(orch, engine)
    assert second.status == "queued" and second.not_before == clock() + timedelta(seconds=60)
    clock.advance(seconds=60)
    third = run_next(orch, engine)
    assert third.status == "waiting_human" and third.attempts == 3 and third.task_id
    task = orch.get_task(third.task_id)
    assert task.queue == "exceptions" and task.origin == "failure" and "the app is down" in task.reason
    # The step before the failure ran once: later attempts restored it from the checkpoint.
    steps = orch.case_timeline(case.id).steps
    assert [s.outcome for s in steps if s.path == "first"] == ["ok", "restored", "restored"]


def test_a_business_exception_goes_to_a_human_at_once(orch: Orchestrator, engine: Engine) -> None:
    new_case(orch, "bad_data")
    case = run_next(orch, engine)
    assert case.status == "waiting_human" and case.failures == 0 and case.error_kind == "business"
    task = orch.get_task(case.task_id or "")
    assert task.queue == "address_exceptions" and "customer unknown" in task.reason


def test_a_released_case_is_claimed_again_and_a_stale_claim_cannot_finish(
    orch: Orchestrator, engine: Engine
) -> None:
    new_case(orch)
    claim = orch.claim_next_case("robot-1", 60)
    assert claim is not None
    released = orch.release_case(claim, reason="robot shutting down")
    assert released.status == "queued" and released.robot_id is None
    assert run_claim(orch, engine, claim) is None  # the old claim changes nothing
    assert orch.get_case(claim.case.id).status == "queued"
    again = orch.claim_next_case("robot-2", 60)
    assert again is not None and again.attempt == 2


def test_cancelling_a_running_case_stops_its_robot(orch: Orchestrator, engine: Engine) -> None:
    case = new_case(orch)
    claim = orch.claim_next_case("robot-1", 60)
    assert claim is not None
    orch.cancel_case(case.id, actor="ops", reason="wrong customer")
    assert run_claim(orch, engine, claim) is None
    assert orch.get_case(case.id).status == "cancelled"


def test_robots_are_registered_with_what_they_do(orch: Orchestrator) -> None:
    orch.register_robot("host#1", host="host", pid=123)
    case = new_case(orch)
    claim = orch.claim_next_case("host#1", 60)
    assert claim is not None
    (robot,) = orch.list_robots()
    assert (robot.status, robot.case_id, robot.workflow) == ("busy", case.id, "noop")
    orch.release_case(claim, reason="stop")
    orch.robot_stopped("host#1")
    assert orch.list_robots()[0].status == "stopped"
