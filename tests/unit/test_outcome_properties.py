"""A property over random lives of a case: robot results and human outcomes in any order.

Whatever happens, a customer reads "done" only when a robot finished the workflow (its steps
verified the effect) or a person recorded doing the work, and every case ends in exactly one
final state, after which nothing changes it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orchestrator.control_room.status_links import customer_reads
from orchestrator.errors import PermissionDenied
from orchestrator.humans.outcomes import CUSTOMER_DONE, offered_outcomes
from orchestrator.models import FINISHED, Case
from orchestrator.service import Orchestrator
from robots.engine.records import RunRecord
from robots.errors import HumanTaskRequest
from robots.language.project import Project
from tests.conftest import ROOT

ADDRESS = {"customer_id": "C000001", "street": "Chausseestraße 5", "postal_code": "10115", "city": "Berlin"}
AGENT, SUPERVISOR = "anna.agent", "sven.supervisor"  # both see Berlin's address queues
ROBOT_RESULTS = ("done", "system_failure", "escalate", "await_human", "business_failure")
HUMAN_OUTCOMES = ("corrected", "done_by_hand", "rejected", "postponed", "cancelled", "agent_cancels")
CUSTOMER_DONE_TITLES = {"Done", "Done by our team"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Orchestrator, Clock]]:
    clock = Clock()
    path: Path = tmp_path_factory.mktemp("properties") / "lives.db"
    store = Orchestrator(f"sqlite:///{path}", project=Project(ROOT), clock=clock, retry_base_seconds=1)
    store.load_organisation()
    yield store, clock
    store.close()


_serial = itertools.count()


def customer_title(store: Orchestrator, case: Case) -> str:
    """What the customer's status page shows as the headline (in English)."""
    return customer_reads(store.project.workflow(case.workflow), case.status, case.outputs, "en")[0]


def robot_run(store: Orchestrator, clock: Clock, result: str, round_no: int) -> bool:
    """One robot run with ``result``; False when no run was possible (nothing claimable)."""
    clock.now += timedelta(hours=2)  # past any backoff
    claim = store.claim_next_case("property-robot")
    if claim is None:
        return False
    task_id = None
    status = {"done": "done", "system_failure": "failed_system", "business_failure": "failed_business"}.get(
        result, "escalated" if result == "escalate" else "waiting_human"
    )
    if result in ("escalate", "await_human"):
        kind = "escalation" if result == "escalate" else "await_human"
        request = HumanTaskRequest(queue="address_review", reason="check", step=f"s{round_no}", kind=kind)
        task_id = store.create_task(
            request, case_id=claim.case.id, run_id=claim.run_id, key=f"{claim.case.id}:s{round_no}"
        )
    store.finish_run(
        claim,
        RunRecord(
            run_id=claim.run_id,
            case_id=claim.case.id,
            workflow=claim.case.workflow,
            version="1",
            robot="property-robot",
            status=status,  # type: ignore[arg-type]
            started_at=clock.now,
            ended_at=clock.now,
            task_id=task_id,
            error=None if result == "done" else result,
            error_kind="business" if result in ("escalate", "business_failure") else None,
        ),
    )
    return True


def human_outcome(store: Orchestrator, clock: Clock, case: Case, outcome: str) -> str | None:
    """A person ends the task the case waits for with ``outcome``; what was recorded."""
    task = store.get_task(case.task_id or "")
    if outcome == "agent_cancels":
        with pytest.raises(PermissionDenied):
            store.resolve_task(task.id, AGENT, "cancelled", note="not mine to cancel")
        return None
    if outcome not in offered_outcomes(task, "supervisor"):
        return None
    who = SUPERVISOR if outcome == "cancelled" else AGENT
    store.resolve_task(
        task.id,
        who,
        outcome,
        note="" if outcome in ("corrected", "postponed") else "changed in CRM and billing by hand",
        until=clock.now + timedelta(hours=1) if outcome == "postponed" else None,
    )
    return outcome


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.one_of(
            st.sampled_from(ROBOT_RESULTS).map(lambda r: ("robot", r)),
            st.sampled_from(HUMAN_OUTCOMES).map(lambda o: ("human", o)),
        ),
        max_size=12,
    )
)
def test_done_only_with_an_effect_and_exactly_one_final_state(
    world: tuple[Orchestrator, Clock], steps: list[tuple[str, str]]
) -> None:
    store, clock = world
    case, _ = store.create_case("address_change", f"life-{next(_serial)}", dict(ADDRESS))
    last_effect: str | None = None  # "robot" after a verified run, "hand" after a recorded one
    for round_no, (actor, what) in enumerate(steps):
        case = store.get_case(case.id)
        if case.status in FINISHED:
            break
        if actor == "robot" and case.status == "queued":
            if robot_run(store, clock, what, round_no):
                last_effect = "robot" if what == "done" else None
        elif actor == "human" and case.status == "waiting_human":
            done = human_outcome(store, clock, case, what)
            last_effect = "hand" if done == "done_by_hand" else last_effect if done is None else None
        case = store.get_case(case.id)
        shown_done = customer_title(store, case) in CUSTOMER_DONE_TITLES
        assert shown_done == (case.status in CUSTOMER_DONE)
        if case.status == "done":
            assert last_effect == "robot", "done without a robot's verified run"
        if case.status == "done_by_hand":
            assert last_effect == "hand" and case.outputs and case.outputs.get("note")
    # Whatever is left unfinished is ended by a supervisor (or ops), as in real life.
    case = store.get_case(case.id)
    event(f"story ended {case.status}")
    if case.status not in FINISHED:
        store.act_on_case(case.id, "olaf.ops", "cancel", reason="end of the test's story")
    event(f"ended {store.get_case(case.id).status}")
    transitions = store.case_timeline(case.id).transitions
    finals = [t for t in transitions if t.to_status in FINISHED]
    assert len(finals) == 1, [t.to_status for t in transitions]
    assert transitions[-1] == finals[0]  # nothing moved the case after its final state
    assert store.get_case(case.id).status == finals[0].to_status
    assert [t for t in store.list_tasks(SUPERVISOR, case_id=case.id)] == []  # no task left open
