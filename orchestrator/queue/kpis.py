"""The KPIs the centre defines for every workflow: volume, automation, handling times, SLA, savings.

Computed from the stored cases, runs and human tasks of a period (cases *created* in it):

``cases``                 cases created in the period
``finished``              of those, cases that reached an end state (done, done by hand,
                          rejected, failed, cancelled)
``done``                  done by a robot (the workflow ran to its end, verifying its effects)
``by_hand``               done by a person, who recorded what they did (``done_by_hand``)
``rejected``              refused by a person with a business reason
``straight_through``      done without any human task: fully automated
``straight_through_rate`` straight_through / finished (an unfinished case has not decided yet)
``escalated``             cases that got at least one human task
``escalation_rate``       escalated / cases
``robot_seconds``         mean robot wall time per case over its runs (cases that ran at all)
``human_seconds``         mean handling time of closed tasks (claimed to closed; arrival to closed
                          when nobody claimed it first) — the agents' AHT
``sla_breaches``          tasks that were or are past their due time
``hours_saved``           for each case a robot finished (``done``): the workflow's
                          ``manual_minutes`` minus the minutes people spent on its tasks (never
                          below 0), summed, in hours; a case done by hand saved nobody anything

Rates are None when their denominator is 0, so a dashboard shows "-" rather than a made-up 0 %.
``scope`` limits them to the cases a user may see (``TaskStore.case_scope``): an ops user of a
branch gets the KPIs of their branch's cases, headquarters those of every case.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from orchestrator.models import FINISHED
from orchestrator.storage.tables import CaseRow, RunRow, TaskRow
from robots.language.project import Project

#: The periods the dashboard offers: name -> how far back from now (None: everything).
PERIODS: dict[str, timedelta | None] = {
    "today": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}


@dataclass
class WorkflowKpis:
    """The KPIs of one workflow in one period (see the module docstring for each definition)."""

    workflow: str
    manual_minutes: float = 0.0
    cases: int = 0
    finished: int = 0
    done: int = 0
    by_hand: int = 0
    rejected: int = 0
    straight_through: int = 0
    escalated: int = 0
    failed: int = 0
    robot_seconds: float | None = None
    human_seconds: float | None = None
    sla_breaches: int = 0
    hours_saved: float = 0.0
    _robot_total: float = field(default=0.0, repr=False)
    _robot_cases: int = field(default=0, repr=False)
    _human_total: float = field(default=0.0, repr=False)
    _human_tasks: int = field(default=0, repr=False)

    @property
    def straight_through_rate(self) -> float | None:
        """Share of finished cases that no person touched."""
        return self.straight_through / self.finished if self.finished else None

    @property
    def escalation_rate(self) -> float | None:
        """Share of cases that needed a person."""
        return self.escalated / self.cases if self.cases else None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready values, rates included."""
        return {
            "workflow": self.workflow,
            "cases": self.cases,
            "finished": self.finished,
            "done": self.done,
            "by_hand": self.by_hand,
            "rejected": self.rejected,
            "failed": self.failed,
            "straight_through": self.straight_through,
            "straight_through_rate": self.straight_through_rate,
            "escalated": self.escalated,
            "escalation_rate": self.escalation_rate,
            "robot_seconds": self.robot_seconds,
            "human_seconds": self.human_seconds,
            "sla_breaches": self.sla_breaches,
            "hours_saved": round(self.hours_saved, 2),
            "manual_minutes": self.manual_minutes,
        }


def period_start(period: str, now: datetime | None = None) -> datetime | None:
    """Where a named period begins (None for 'all'); ValueError naming the known periods."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    span = PERIODS[period]
    return None if span is None else (now or datetime.now(UTC)) - span


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _manual_minutes(project: Project, workflows: Iterable[str]) -> dict[str, float]:
    minutes: dict[str, float] = {}
    for name in workflows:
        try:
            minutes[name] = float(project.workflow(name).manual_minutes)
        except Exception:  # a workflow file removed or broken since its cases ran: no savings claimed
            minutes[name] = 0.0
    return minutes


def compute_kpis(
    engine: sa.Engine,
    project: Project,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    scope: sa.ColumnElement[bool] | None = None,
) -> list[WorkflowKpis]:
    """KPIs per workflow for the cases created since ``since`` (all cases when None), by name;
    with ``scope`` (a condition on the cases table), only for the cases it selects."""
    moment = now or datetime.now(UTC)
    case_query = sa.select(CaseRow.id, CaseRow.workflow, CaseRow.status)
    if since is not None:
        case_query = case_query.where(CaseRow.created_at >= since)
    if scope is not None:
        case_query = case_query.where(scope)
    period_cases = case_query.subquery()
    with engine.connect() as connection:
        cases = connection.execute(sa.select(period_cases)).all()
        runs = connection.execute(
            sa.select(RunRow.case_id, RunRow.started_at, RunRow.ended_at).join(
                period_cases, RunRow.case_id == period_cases.c.id
            )
        ).all()
        tasks = connection.execute(
            sa.select(
                TaskRow.case_id,
                TaskRow.status,
                TaskRow.created_at,
                TaskRow.claimed_at,
                TaskRow.closed_at,
                TaskRow.due_at,
                TaskRow.breached_at,
            ).join(period_cases, TaskRow.case_id == period_cases.c.id)
        ).all()

    robot_time: dict[str, float] = defaultdict(float)
    for run_case, started, ended in runs:
        seconds = _seconds(started, ended)
        if seconds is not None:  # a run still going has no handling time yet
            robot_time[str(run_case)] += seconds
    human_time: dict[str, float] = defaultdict(float)
    task_count: dict[str, int] = defaultdict(int)
    breaches: dict[str, int] = defaultdict(int)
    human_samples: dict[str, list[float]] = defaultdict(list)
    for task_case, status, created, claimed, closed, due, breached in tasks:
        case_id = str(task_case)
        task_count[case_id] += 1
        worked = _seconds(claimed or created, closed)
        if worked is not None and status in ("completed", "returned"):
            human_time[case_id] += worked
            human_samples[case_id].append(worked)
        late = breached is not None or (closed or moment) > due
        breaches[case_id] += int(late)

    manual = _manual_minutes(project, {workflow for _, workflow, _ in cases})
    by_workflow: dict[str, WorkflowKpis] = {}
    for case_id, workflow, status in cases:
        kpis = by_workflow.setdefault(workflow, WorkflowKpis(workflow, manual_minutes=manual[workflow]))
        kpis.cases += 1
        had_human = task_count.get(case_id, 0) > 0
        kpis.escalated += int(had_human)
        kpis.sla_breaches += breaches.get(case_id, 0)
        if status in FINISHED:
            kpis.finished += 1
        if status == "done":
            kpis.done += 1
            kpis.straight_through += int(not had_human)
            saved_minutes = kpis.manual_minutes - human_time.get(case_id, 0.0) / 60
            kpis.hours_saved += max(0.0, saved_minutes) / 60
        elif status == "done_by_hand":
            kpis.by_hand += 1  # a person did the work: no robot hours saved
        elif status == "rejected":
            kpis.rejected += 1
        elif status in ("failed_business", "failed_system"):
            kpis.failed += 1
        if case_id in robot_time:
            kpis._robot_total += robot_time[case_id]
            kpis._robot_cases += 1
        for sample in human_samples.get(case_id, []):
            kpis._human_total += sample
            kpis._human_tasks += 1
    for kpis in by_workflow.values():
        kpis.robot_seconds = kpis._robot_total / kpis._robot_cases if kpis._robot_cases else None
        kpis.human_seconds = kpis._human_total / kpis._human_tasks if kpis._human_tasks else None
    return [by_workflow[name] for name in sorted(by_workflow)]


def totals(rows: list[WorkflowKpis]) -> WorkflowKpis:
    """All workflows together (means weighted by their samples)."""
    total = WorkflowKpis("all workflows")
    for row in rows:
        for name in (
            "cases",
            "finished",
            "done",
            "by_hand",
            "rejected",
            "straight_through",
            "escalated",
            "failed",
            "sla_breaches",
        ):
            setattr(total, name, getattr(total, name) + getattr(row, name))
        total.hours_saved += row.hours_saved
        total._robot_total += row._robot_total
        total._robot_cases += row._robot_cases
        total._human_total += row._human_total
        total._human_tasks += row._human_tasks
    total.robot_seconds = total._robot_total / total._robot_cases if total._robot_cases else None
    total.human_seconds = total._human_total / total._human_tasks if total._human_tasks else None
    return total
