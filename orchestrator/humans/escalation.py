"""Escalation: a task moved one level up, by the SLA rule or by a supervisor.

Escalation moves an open or claimed task one level up: to its queue's ``escalates_to``, or
else to the ``escalation_queue`` of the parent of the unit that owns the queue. The SLA rule
(``escalate_overdue_tasks``) does it for every open task past its due time; a supervisor of
the task's unit does it for one task by hand (``escalate_task``), saying why. Either way the
task is due by the new queue's SLA and a 'task' callout tells that queue's agents.

Owns: ``EscalationStore`` (the escalation path of a queue, escalating by hand and by SLA).

May import: ``orchestrator.humans.tasks``, ``orchestrator.humans.roles``, ``orchestrator.storage``,
``orchestrator.errors`` and ``orchestrator.models``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from orchestrator.errors import InvalidTransition
from orchestrator.humans.roles import require
from orchestrator.humans.tasks import TaskStore, note_breach
from orchestrator.models import OPEN_TASK, HumanTask
from orchestrator.storage.tables import CalloutRow, OrgUnitRow, QueueRow, TaskRow


class EscalationStore(TaskStore):
    """Adds escalation: by hand (``escalate_task``) and by the SLA rule (``escalate_overdue_tasks``)."""

    def _escalation_target(self, session: Session, queue_name: str) -> QueueRow | None:
        """The next level's queue for tasks of ``queue_name``: the queue's ``escalates_to``, or
        else the ``escalation_queue`` of its unit's parent; None at the top of the path."""
        queue = session.get(QueueRow, queue_name)
        if queue is None:
            return None
        target_name = queue.escalates_to
        if target_name is None:
            unit = session.get(OrgUnitRow, queue.unit_id)
            parent = session.get(OrgUnitRow, unit.parent_id) if unit and unit.parent_id else None
            target_name = parent.escalation_queue if parent else None
        target = session.get(QueueRow, target_name) if target_name else None
        return None if target is None or target.name == queue_name else target

    def _move_up(
        self,
        session: Session,
        task: TaskRow,
        target: QueueRow,
        moment: datetime,
        *,
        actor: str,
        detail: str,
        title: str,
        message: str,
    ) -> HumanTask:
        """Put ``task`` into ``target`` one level up, due by that queue's SLA from ``moment``;
        the task event and a 'task' callout for the target queue's agents are stored."""
        self._task_event(session, task.id, actor, "escalated", detail)
        task.queue = target.name
        task.escalation_level += 1
        task.due_at = moment + timedelta(minutes=target.sla_minutes)
        session.add(
            CalloutRow(
                at=moment,
                kind="task",
                queue=target.name,
                title=title,
                message=message,
                level="warning",
                data={"task_id": task.id, "escalation_level": task.escalation_level},
                hints=[],
                case_id=task.case_id,
                task_id=task.id,
            )
        )
        session.flush()
        return HumanTask.model_validate(task)

    def escalation_targets(self) -> dict[str, str]:
        """For every queue that has a next level: queue name -> the queue its tasks escalate to."""
        with self._tx() as session:
            names = list(session.scalars(sa.select(QueueRow.name)))
            return {name: target.name for name in names if (target := self._escalation_target(session, name))}

    def escalate_task(self, task_id: str, actor: str, reason: str) -> HumanTask:
        """A supervisor (or admin) of the task's unit moves one open or claimed task to the next
        level's queue by hand, saying why; the task.

        It is due by the new queue's SLA from now and open there (a claim ends: the holder may
        not see the new queue). ``InvalidTransition`` when the queue has no higher level.
        """
        with self._tx() as session:
            task, user = self._task_for(session, task_id, actor)
            require(actor, user.role, "task.escalate")
            if not reason.strip():
                raise ValueError("say why the task is escalated: the next level reads it")
            if task.status not in OPEN_TASK:
                raise InvalidTransition(
                    f"task {task_id} is {task.status}; only open or claimed tasks can be escalated"
                )
            target = self._escalation_target(session, task.queue)
            if target is None:
                raise InvalidTransition(
                    f"task {task_id} is in {task.queue!r}, the top of its escalation path: the queue "
                    "names no escalates_to and its unit's parent no escalation_queue "
                    "(see the organisation file)"
                )
            moment = self.now()
            note_breach(task, moment)
            held = f" (was claimed by {task.assignee})" if task.status == "claimed" else ""
            task.status, task.assignee, task.claimed_at = "open", None, None
            return self._move_up(
                session,
                task,
                target,
                moment,
                actor=actor,
                detail=f"moved from {task.queue} to {target.name}{held}: {reason.strip()}",
                title=f"Task escalated to {target.name} by {actor}",
                message=reason.strip(),
            )

    def escalate_overdue_tasks(self, now: datetime | None = None) -> list[HumanTask]:
        """Move open tasks past their due time to the next level's queue; the moved tasks.

        The target is the queue's ``escalates_to`` or else the ``escalation_queue`` of the
        parent unit. A task with nowhere to go stays and is only marked as breached.
        """
        moment = now or self.now()
        moved: list[HumanTask] = []
        with self._tx() as session:
            overdue = list(
                session.scalars(
                    sa.select(TaskRow)
                    .where(TaskRow.status == "open", TaskRow.due_at < moment)
                    .with_for_update()
                )
            )
            for task in overdue:
                note_breach(task, moment)
                target = self._escalation_target(session, task.queue)
                if target is None:
                    continue
                moved.append(
                    self._move_up(
                        session,
                        task,
                        target,
                        moment,
                        actor="sla",
                        detail=f"overdue in {task.queue}, moved to {target.name}",
                        title=f"Overdue task escalated to {target.name}",
                        message=task.reason,
                    )
                )
        return moved
