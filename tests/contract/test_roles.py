"""The roles table (orchestrator/humans/roles.py), cell by cell: what each role may do to a
task and a case. Allowed: it happens; refused: PermissionDenied and nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from orchestrator.errors import PermissionDenied
from orchestrator.humans.roles import PERMISSIONS, allowed
from orchestrator.service import Orchestrator
from robots.engine.runner import Engine
from tests.contract.conftest import Clock, new_case, run_next

#: One user per role; each of them sees Munich's appointments queue and its cases.
USERS = {"agent": "max.agent", "supervisor": "sven.supervisor", "ops": "olaf.ops", "admin": "admin"}

Act = Callable[[Orchestrator, str, str, str, Clock], object]

ACTIONS: dict[str, Act] = {
    "task.view": lambda o, user, task, case, clock: o.get_task(task, user),
    "task.claim": lambda o, user, task, case, clock: o.claim_task(task, user),
    "task.release": lambda o, user, task, case, clock: o.release_task(task, user),
    "task.comment": lambda o, user, task, case, clock: o.comment_task(task, user, "called, no answer"),
    "task.corrected": lambda o, user, task, case, clock: o.resolve_task(
        task, user, "corrected", answer={"slot": "monday"}
    ),
    "task.done_by_hand": lambda o, user, task, case, clock: o.resolve_task(
        task, user, "done_by_hand", note="booked on the phone"
    ),
    "task.rejected": lambda o, user, task, case, clock: o.resolve_task(
        task, user, "rejected", note="no delivery to islands"
    ),
    "task.postponed": lambda o, user, task, case, clock: o.resolve_task(
        task, user, "postponed", until=clock() + timedelta(days=1)
    ),
    "task.cancelled": lambda o, user, task, case, clock: o.resolve_task(
        task, user, "cancelled", note="customer withdrew"
    ),
    "task.reassign": lambda o, user, task, case, clock: o.reassign_task(task, user, "max.agent"),
    "task.escalate": lambda o, user, task, case, clock: o.escalate_task(task, user, "urgent"),
    "case.view": lambda o, user, task, case, clock: o.check_case_visible(case, user),
    "case.retry": lambda o, user, task, case, clock: o.act_on_case(case, user, "retry"),
    "case.cancel": lambda o, user, task, case, clock: o.act_on_case(case, user, "cancel", reason="withdrawn"),
}


def test_every_action_of_the_table_is_tested() -> None:
    assert set(ACTIONS) == set(PERMISSIONS)


def _state(orch: Orchestrator, task_id: str, case_id: str) -> tuple[object, ...]:
    return (orch.get_task(task_id), orch.get_case(case_id), len(orch.task_events(task_id)))


@pytest.mark.parametrize("role", list(USERS))
@pytest.mark.parametrize("action", list(PERMISSIONS))
def test_a_role_may_do_what_the_table_says_and_nothing_else(
    orch: Orchestrator, engine: Engine, clock: Clock, role: str, action: str
) -> None:
    case = new_case(orch, "ask", payload={"customer": "Lea Weber"})
    task_id = run_next(orch, engine).task_id or ""
    user = USERS[role]
    if action == "task.release":
        orch.claim_task(task_id, user)  # one releases what one holds
    before = _state(orch, task_id, case.id)
    if allowed(role, action):
        ACTIONS[action](orch, user, task_id, case.id, clock)
        if action not in ("task.view", "case.view"):
            assert _state(orch, task_id, case.id) != before
    else:
        with pytest.raises(PermissionDenied, match=f"{user} is {role}; only"):
            ACTIONS[action](orch, user, task_id, case.id, clock)
        assert _state(orch, task_id, case.id) == before
