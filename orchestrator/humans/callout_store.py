"""Stored callouts: what pops up in the agents' control room, and who sees which.

A robot's callout (``robots.engine.human_gateway.Callout``) is stored once for a queue or
one agent; a task arriving, coming back or escalated is stored as a 'task' callout
(``task_callout``). The control room's hub (``orchestrator.control_room.callouts``) reads
them by id and pushes them to the agents; the tray (``orchestrator.humans.notifications``)
lists them per user.

Owns: ``CalloutStore`` (push, read since an id, the newest id) and ``task_callout``.

May import: ``orchestrator.humans.people`` (whose units a user sees), ``orchestrator.storage``,
``orchestrator.models`` and ``robots``.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from orchestrator.humans.people import PeopleStore
from orchestrator.models import StoredCallout
from orchestrator.storage.tables import CalloutRow, QueueRow, TaskRow
from robots.engine.human_gateway import Callout


def task_callout(
    task: TaskRow, *, at: datetime, title: str, level: str, queue: str | None = None, agent: str | None = None
) -> CalloutRow:
    """The 'task' callout that puts ``task`` in front of its queue's agents (``queue``: another
    queue's; ``agent``: only that agent), with the task's reason as its message."""
    return CalloutRow(
        at=at,
        kind="task",
        queue=queue or task.queue,
        agent=agent,
        title=title,
        message=task.reason,
        level=level,
        data={"task_id": task.id, "priority": task.priority},
        hints=[],
        case_id=task.case_id,
        run_id=task.run_id,
        step=task.step,
        task_id=task.id,
    )


class CalloutStore(PeopleStore):
    """Adds the stored callouts."""

    def last_callout_id(self) -> int:
        """The highest callout id stored (0 when there is none): where a new listener starts."""
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.max(CalloutRow.id))).scalar() or 0)

    def push_callout(self, callout: Callout) -> int:
        """Store a robot's callout for the agents it names; its id (ids only grow)."""
        with self._tx() as session:
            row = CalloutRow(
                at=self.now(),
                kind="callout",
                queue=callout.queue,
                agent=callout.agent,
                title=callout.title,
                message=callout.message,
                level=callout.level,
                data=callout.data,
                hints=callout.hints,
                case_id=callout.case_id or None,
                run_id=callout.run_id or None,
                step=callout.step or None,
            )
            session.add(row)
            session.flush()
            return row.id

    def callouts_since(
        self, after_id: int = 0, *, username: str | None = None, limit: int = 100
    ) -> list[StoredCallout]:
        """Callouts with an id above ``after_id``, oldest first; for ``username`` only those for
        them: their queues (their units and below) or addressed to them by name."""
        with self._tx() as session:
            query = sa.select(CalloutRow).where(CalloutRow.id > after_id).order_by(CalloutRow.id).limit(limit)
            rows = list(session.scalars(query))
            if username is not None:
                visible = self._visible_units(session, username)
                queues = {
                    q.name for q in session.scalars(sa.select(QueueRow).where(QueueRow.unit_id.in_(visible)))
                }
                rows = [
                    r
                    for r in rows
                    if r.agent == username or (r.agent is None and r.queue is not None and r.queue in queues)
                ]
            return [StoredCallout.model_validate(r) for r in rows]
