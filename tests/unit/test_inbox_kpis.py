"""KPIs from stored cases, runs and tasks, with a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.queue.kpis import compute_kpis, period_start, totals
from orchestrator.service import Orchestrator
from robots.engine.records import RunRecord
from robots.errors import HumanTaskRequest
from robots.language.project import Project
from tests.conftest import ROOT

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ADDRESS = {"customer_id": "C000001", "street": "Chausseestraße 5", "postal_code": "10115", "city": "Berlin"}


class Clock:
    """Now is whatever the test says."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **span: float) -> None:
        self.now += timedelta(**span)


def run_to(store: Orchestrator, clock: Clock, status: str, seconds: float, **record: object) -> str:
    """Claim the next case, let the robot take ``seconds``, store the run's outcome."""
    claim = store.claim_next_case("kpi-robot")
    assert claim is not None
    clock.advance(seconds=seconds)
    outcome = RunRecord(
        run_id=claim.run_id,
        case_id=claim.case.id,
        workflow=claim.case.workflow,
        version="1",
        robot="kpi-robot",
        status=status,  # type: ignore[arg-type]
        started_at=clock.now - timedelta(seconds=seconds),
        ended_at=clock.now,
        **record,  # type: ignore[arg-type]
    )
    store.finish_run(claim, outcome)
    return claim.case.id


def test_kpis_per_workflow(tmp_path: Path) -> None:
    clock = Clock()
    store = Orchestrator(f"sqlite:///{tmp_path / 'kpi.db'}", project=Project(ROOT), clock=clock)
    store.load_organisation()
    # Three address changes: two straight through (40 s and 20 s of robot time) ...
    for number in range(3):
        store.create_case("address_change", f"kpi-{number}", dict(ADDRESS))
    run_to(store, clock, "done", 40)
    run_to(store, clock, "done", 20)
    # ... and one a person resolved: the robot escalated after 60 s, an agent worked 3 minutes.
    claim = store.claim_next_case("kpi-robot")
    assert claim is not None
    request = HumanTaskRequest(
        queue="address_review", reason="check it", kind="escalation", step="implausible"
    )
    task_id = store.create_task(request, case_id=claim.case.id, run_id=claim.run_id, key="kpi:implausible")
    clock.advance(seconds=60)
    store.finish_run(
        claim,
        RunRecord(
            run_id=claim.run_id,
            case_id=claim.case.id,
            workflow="address_change",
            version="1",
            robot="kpi-robot",
            status="escalated",
            started_at=clock.now - timedelta(seconds=60),
            ended_at=clock.now,
            task_id=task_id,
            error="check it",
            error_kind="business",
        ),
    )
    store.claim_task(task_id, "anna.agent")
    clock.advance(minutes=3)
    store.resolve_task(task_id, "anna.agent", "done_by_hand", note="changed in all three systems by hand")

    [kpis] = compute_kpis(store.engine, store.project, since=START - timedelta(hours=1), now=clock.now)
    assert (kpis.workflow, kpis.cases, kpis.finished, kpis.done) == ("address_change", 3, 3, 2)
    assert (kpis.by_hand, kpis.rejected) == (1, 0)  # counted apart from the robots' done
    assert kpis.straight_through == 2
    assert kpis.straight_through_rate == pytest.approx(2 / 3)
    assert kpis.escalation_rate == pytest.approx(1 / 3)
    assert kpis.robot_seconds == pytest.approx(40.0)  # (40 + 20 + 60) / 3
    assert kpis.human_seconds == pytest.approx(180.0)
    assert kpis.sla_breaches == 0
    # address_change takes 6 minutes by hand: the robots saved 6 + 6; the case done by hand nothing.
    assert kpis.hours_saved == pytest.approx(12 / 60)
    assert totals([kpis]).cases == 3
    store.close()


def test_sla_breaches_count_open_overdue_tasks_and_late_closings(tmp_path: Path) -> None:
    clock = Clock()
    store = Orchestrator(f"sqlite:///{tmp_path / 'sla.db'}", project=Project(ROOT), clock=clock)
    store.load_organisation()
    case, _ = store.create_case("address_change", "sla-1", dict(ADDRESS))
    for step in ("a", "b"):  # address_review: 120 minutes
        request = HumanTaskRequest(queue="address_review", reason=step, step=step)
        store.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:{step}")
    clock.advance(minutes=90)
    [early] = compute_kpis(store.engine, store.project, now=clock.now)
    assert early.sla_breaches == 0
    clock.advance(minutes=31)
    [late] = compute_kpis(store.engine, store.project, now=clock.now)
    assert late.sla_breaches == 2
    assert late.straight_through_rate is None  # nothing finished yet: no rate made up
    store.close()


def test_periods() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert period_start("7d", now) == now - timedelta(days=7)
    assert period_start("all", now) is None
    with pytest.raises(ValueError, match="use one of today, 7d, 30d, all"):
        period_start("decade", now)
