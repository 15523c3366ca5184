"""What a task looks like on a page: inbox lines with their SLA state, the task page's
values, and the evidence files a case's steps kept.

Owns: ``TASK_STATES`` (the inbox's state filter), ``sla_state``, ``TaskRowView`` /
``task_rows`` / ``sorted_rows``, ``task_view``, ``artifacts_of``, ``screenshots_of``.

May import: ``pages.sessions`` (the agent who looks), ``orchestrator.humans.outcomes``
(which outcomes a task offers) and ``orchestrator.models``; the store is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from orchestrator.control_room.pages.sessions import Agent
from orchestrator.humans.outcomes import MEANINGS, label_for, offered_outcomes, plain_reason
from orchestrator.models import OPEN_TASK, HumanTask, StepEntry

TASK_STATES: dict[str, tuple[str, ...]] = {
    "open": ("open", "claimed"),
    "unclaimed": ("open",),
    "mine": ("claimed",),
    "done": ("completed", "returned", "cancelled"),
    "all": ("open", "claimed", "completed", "returned", "cancelled"),
}


SlaState = Literal["ok", "due_soon", "breached", "closed"]


def sla_state(task: HumanTask, now: datetime | None = None) -> SlaState:
    """Where a task stands against its due time; due soon = less than a quarter of its time left
    (at least 15 minutes), so a 4-hour queue warns an hour ahead and a 30-minute one 15 minutes."""
    moment = now or datetime.now(UTC)
    if task.breached_at is not None or (task.status in OPEN_TASK and moment > task.due_at):
        return "breached"
    if task.status not in OPEN_TASK:
        return "closed"
    warn = max(timedelta(minutes=15), (task.due_at - task.created_at) / 4)
    return "due_soon" if task.due_at - moment <= warn else "ok"


@dataclass
class TaskRowView:
    """One line of the inbox."""

    id: str
    queue: str
    unit: str
    reason: str
    workflow: str
    reference: str
    case_id: str | None
    case_status: str
    priority: int
    status: str
    sla: str
    claimed_by: str | None
    created_at: datetime
    due_at: datetime
    postponed_until: datetime | None = None
    outcome: str | None = None


def queue_units(store: Any) -> dict[str, str]:
    return {q.name: q.unit_id for q in store.list_queues()}


def task_rows(store: Any, tasks: list[HumanTask], now: datetime | None = None) -> list[TaskRowView]:
    """Inbox lines for tasks, with their case's workflow and reference."""
    facts = store.case_facts([t.case_id for t in tasks if t.case_id])
    units = queue_units(store)
    rows = []
    for task in tasks:
        workflow, reference, case_status = facts.get(task.case_id or "", ("manual", "-", "-"))
        rows.append(
            TaskRowView(
                id=task.id,
                queue=task.queue,
                unit=units.get(task.queue, "?"),
                reason=task.reason,
                workflow=workflow,
                reference=reference,
                case_id=task.case_id,
                case_status=case_status,
                priority=task.priority,
                status=task.status,
                sla=sla_state(task, now),
                claimed_by=task.assignee,
                created_at=task.created_at,
                due_at=task.due_at,
                postponed_until=task.available_at if task.available_at and task.status in OPEN_TASK else None,
                outcome=task.outcome,
            )
        )
    return rows


def sorted_rows(rows: list[TaskRowView], sort: str) -> list[TaskRowView]:
    if sort == "priority":
        return sorted(rows, key=lambda r: (-r.priority, r.due_at))
    if sort == "created":
        return sorted(rows, key=lambda r: r.created_at, reverse=True)
    return sorted(rows, key=lambda r: (r.due_at, -r.priority))


def artifacts_of(steps: list[StepEntry], suffix: str) -> list[Path]:
    """Files the robot kept for a case's steps (oldest first); only what the steps name, and
    only what exists (another machine's robot may have written it)."""
    found: list[Path] = []
    for step in steps:
        for artifact in step.artifacts or []:
            path = Path(str(artifact.get("path", "")) if isinstance(artifact, dict) else str(artifact))
            if path.suffix.lower() == suffix and path.is_file():
                found.append(path)
    return found


def screenshots_of(store: Any, case_id: str | None) -> list[Path]:
    """The robot's screenshots of a case (newest last)."""
    return artifacts_of(store.case_timeline(case_id).steps, ".png") if case_id else []


@dataclass
class AuditLine:
    """One line of a task's audit trail (a task event or a transition of its case)."""

    at: datetime
    actor: str
    what: str
    detail: str


def task_view(store: Any, task: HumanTask, agent: Agent) -> dict[str, Any]:
    """Everything the task page shows, as plain values."""
    [row] = task_rows(store, [task])
    events = store.task_events(task.id)
    audit = [AuditLine(e.at, e.actor, e.action, e.detail) for e in events]
    comments = [{"author": e.actor, "at": e.at, "text": e.detail} for e in events if e.action == "comment"]
    screenshots: list[Path] = []
    if task.case_id:
        timeline = store.case_timeline(task.case_id)
        screenshots = artifacts_of(timeline.steps, ".png")
        for transition in timeline.transitions:
            change = f"case {transition.from_status or 'new'} → {transition.to_status}"
            audit.append(AuditLine(transition.at, transition.actor, change, transition.reason))
    audit.sort(key=lambda line: line.at)
    is_open = task.status in OPEN_TASK
    mine = task.status == "claimed" and task.assignee == agent.username
    escalate_to = store.escalation_targets().get(task.queue) if is_open and agent.can_supervise else None
    may_work = is_open and (task.status == "open" or mine or agent.can_supervise)
    picture = store.case_picture(task.case_id)
    reason_text, reason_detail = plain_reason(task)
    return {
        **row.__dict__,
        "data": task.data,
        "form": task.form,
        "answer": task.answer,
        "kind": task.kind,
        "comments": comments,
        "audit": audit,
        "screenshot_url": f"/tasks/{task.id}/screenshot" if screenshots else None,
        # A postponed task waits for its time (the store refuses the claim before it).
        "can_claim": task.status == "open"
        and (task.available_at is None or task.available_at <= store.now()),
        "can_release": task.status == "claimed" and (mine or agent.can_supervise),
        "can_complete": is_open and (task.status == "open" or mine or agent.can_supervise),
        "can_return": is_open and task.case_id is not None and task.kind != "await_human",
        "can_comment": True,
        "escalate_to": escalate_to,
        "outcomes": [
            (name, label_for(task, name), MEANINGS[name]) for name in offered_outcomes(task, agent.role)
        ]
        if may_work
        else [],
        "correction_fields": store.correction_fields(task) if may_work else [],
        "outcome": task.outcome,
        "outcome_note": task.outcome_note,
        "available_at": task.available_at,
        "origin": task.origin,
        "picture": picture,
        "reason_text": reason_text,
        "reason_detail": reason_detail,
    }
