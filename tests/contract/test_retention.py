"""Retention: personal data of finished cases is purged after a period; the audit trail stays."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.service import Orchestrator
from robots.engine.runner import Engine
from tests.contract.conftest import Clock, new_case, run_next


def test_personal_data_of_old_finished_cases_is_purged_and_the_audit_kept(
    orch: Orchestrator, engine: Engine, clock: Clock
) -> None:
    old = new_case(orch, "ask", payload={"customer": "Lea Weber"})
    task_id = run_next(orch, engine).task_id or ""
    orch.complete_task(task_id, "max.agent", {"slot": "monday", "note": "Lea prefers mornings"})
    assert run_next(orch, engine).status == "done"
    clock.advance(days=31)
    recent = new_case(orch, "ask", payload={"customer": "Jonas Müller"})
    unfinished = orch.get_case(recent.id)
    clock.advance(days=1)

    assert orch.purge_personal_data(timedelta(days=30)) == 1
    purged = orch.case_timeline(old.id)
    assert purged.case.payload == {} and purged.case.outputs is None and purged.case.purged_at is not None
    assert all(step.outputs is None for step in purged.steps) and purged.steps  # steps kept, data gone
    assert purged.tasks[0].data == {} and purged.tasks[0].answer is None
    assert [t.to_status for t in purged.transitions][:4] == ["queued", "running", "waiting_human", "queued"]
    assert purged.transitions[-1].actor == "retention"
    assert all(
        "Lea" not in str(c.data) + c.message + c.title for c in orch.callouts_since(0) if c.case_id == old.id
    )
    assert orch.get_case(recent.id).payload == unfinished.payload  # not finished: untouched
    assert orch.purge_personal_data(timedelta(days=30)) == 0  # purged once
