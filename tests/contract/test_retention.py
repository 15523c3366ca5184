"""Retention: personal data of finished cases is purged after a period; the audit trail stays."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from orchestrator.models import Claim
from orchestrator.service import Orchestrator
from robots.engine.records import RunRecord, RunState, StepRecord
from robots.engine.runner import Engine
from robots.masking import page_quote
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


def fail_business(orch: Orchestrator, claim: Claim, now: datetime, error: str) -> None:
    """The claimed run of the 'ask' case ends in a business exception with ``error``."""
    orch.finish_run(
        claim,
        RunRecord(
            run_id=claim.run_id,
            case_id=claim.case.id,
            workflow="ask",
            version="1",
            robot="robot-1",
            status="failed_business",
            started_at=now,
            ended_at=now,
            error=error,
            error_kind="business",
        ),
    )


def test_the_purge_deletes_the_evidence_files_of_the_purged_cases(
    orch: Orchestrator, clock: Clock, tmp_path: Path
) -> None:
    case = new_case(orch, "ask", payload={"customer": "Lea Weber"})
    claim = orch.claim_next_case("robot-1")
    assert claim is not None and claim.case.id == case.id
    run = tmp_path / "artifacts" / case.id / claim.run_id
    run.mkdir(parents=True)
    picture, trace = run / "step-0001-1-1.jpg", run / "trace.zip"
    picture.write_bytes(b"\xff\xd8 Lea Weber's address on a page")
    trace.write_bytes(b"PK Lea Weber")
    now = clock()
    step = StepRecord(
        path="1", kind="web.goto", label="web.goto /", started_at=now, outcome="ok", artifacts=[str(picture)]
    )
    failed = StepRecord(
        path="2",
        kind="in",
        label="crm",
        started_at=now,
        outcome="failed",
        artifacts=[str(trace), "/nowhere/x.png"],
    )
    orch.save_checkpoint(claim, RunState(), [step, failed])
    fail_business(orch, claim, now, "no such customer")
    clock.advance(days=31)

    assert orch.purge_personal_data(timedelta(days=30)) == 1
    assert not picture.exists() and not trace.exists() and not (tmp_path / "artifacts" / case.id).exists()
    assert all(step.artifacts == [] for step in orch.case_timeline(case.id).steps)


def test_the_audit_trail_keeps_errors_without_the_page_text_they_quoted(
    orch: Orchestrator, clock: Clock
) -> None:
    case = new_case(orch, "ask", payload={"customer": "Lea Weber"})
    claim = orch.claim_next_case("robot-1")
    assert claim is not None
    now = clock()
    quote = page_quote("Kundin Lea Weber, geboren 12.03.1980")
    fail_business(orch, claim, now, f"expected text='Saved', but the page shows: {quote}")
    before = orch.case_timeline(case.id)
    assert "Lea Weber" in before.transitions[-1].reason  # the person reading the case sees it
    clock.advance(days=31)

    assert orch.purge_personal_data(timedelta(days=30)) == 1
    after = orch.case_timeline(case.id)
    kept = [t.reason for t in after.transitions] + [r.error or "" for r in after.runs]
    assert not any("Lea" in text or "1980" in text for text in kept)
    assert any("expected text='Saved', but the page shows: «page text not logged»" in text for text in kept)
