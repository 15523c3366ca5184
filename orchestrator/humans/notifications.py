"""The notification tray: each user's callouts and task arrivals, read or unread.

Callouts are stored once (``callouts`` table) for a queue or an agent; the tray is a view
of them per user: those the user may see (a callout naming them, or one for a queue of
their units and below, as the live stream decides) while they are still relevant, and a
row in ``notification_reads`` for each one the user has read. So an agent who signs in
after a callout was pushed still finds it, unread, and a callout stops being listed once it
no longer matters:

* a task arrival, while its task is still open or claimed;
* any other callout, for :data:`RELEVANT_FOR` after it was pushed (a hint for a call that
  ended long ago is noise).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from orchestrator.humans.tasks import TaskStore
from orchestrator.models import OPEN_TASK, Notification, StoredCallout
from orchestrator.storage.tables import CalloutRow, NotificationReadRow, QueueRow, TaskRow

#: How long a callout that is not a task arrival stays in the tray.
RELEVANT_FOR = timedelta(hours=8)
#: How far back the tray looks for task arrivals whose task is still open.
TASK_LOOKBACK = timedelta(days=30)
#: The most a tray lists (newest first).
TRAY_SIZE = 30


class NotificationStore(TaskStore):
    """Adds the per-user tray over the stored callouts."""

    def _tray_rows(self, session: Session, username: str, limit: int) -> list[CalloutRow]:
        visible = self._visible_units(session, username)
        queues = sa.select(QueueRow.name).where(QueueRow.unit_id.in_(visible))
        now = self.now()
        open_task = sa.exists().where(TaskRow.id == CalloutRow.task_id, TaskRow.status.in_(OPEN_TASK))
        query = (
            sa.select(CalloutRow)
            .where(
                sa.or_(
                    CalloutRow.agent == username,
                    sa.and_(CalloutRow.agent.is_(None), CalloutRow.queue.in_(queues)),
                ),
                sa.or_(
                    sa.and_(CalloutRow.kind != "task", CalloutRow.at >= now - RELEVANT_FOR),
                    sa.and_(CalloutRow.kind == "task", CalloutRow.at >= now - TASK_LOOKBACK, open_task),
                ),
            )
            .order_by(CalloutRow.id.desc())
            .limit(limit)
        )
        return list(session.scalars(query))

    def notifications_for(self, username: str, *, limit: int = TRAY_SIZE) -> list[Notification]:
        """The user's tray, newest first: each relevant callout with whether they read it and
        the task it leads to (a callout without one leads to its case's open task, when the
        user may see that task)."""
        with self._tx() as session:
            rows = self._tray_rows(session, username, limit)
            ids = [r.id for r in rows]
            read = set(
                session.scalars(
                    sa.select(NotificationReadRow.callout_id).where(
                        NotificationReadRow.username == username, NotificationReadRow.callout_id.in_(ids)
                    )
                )
            )
            case_tasks = self._open_tasks_of_cases(session, username, {r.case_id for r in rows if r.case_id})
            return [
                Notification(
                    callout=StoredCallout.model_validate(r),
                    read=r.id in read,
                    task_id=r.task_id or (case_tasks.get(r.case_id) if r.case_id else None),
                )
                for r in rows
            ]

    def _open_tasks_of_cases(self, session: Session, username: str, case_ids: set[str]) -> dict[str, str]:
        if not case_ids:
            return {}
        visible = self._visible_units(session, username)
        queues = sa.select(QueueRow.name).where(QueueRow.unit_id.in_(visible))
        rows = session.execute(
            sa.select(TaskRow.case_id, TaskRow.id)
            .where(TaskRow.case_id.in_(case_ids), TaskRow.status.in_(OPEN_TASK), TaskRow.queue.in_(queues))
            .order_by(TaskRow.created_at)
        )
        return {case_id: task_id for case_id, task_id in rows if case_id}

    def mark_notifications_read(self, username: str, callout_ids: Iterable[int] | None = None) -> int:
        """Mark callouts as read by ``username`` (None: everything in their tray); how many
        were unread. Ids the user may not see are ignored."""
        with self._tx() as session:
            tray = {r.id for r in self._tray_rows(session, username, TRAY_SIZE * 10)}
            wanted = tray if callout_ids is None else tray & set(callout_ids)
            already = set(
                session.scalars(
                    sa.select(NotificationReadRow.callout_id).where(
                        NotificationReadRow.username == username, NotificationReadRow.callout_id.in_(wanted)
                    )
                )
            )
            now = self.now()
            for callout_id in sorted(wanted - already):
                session.add(NotificationReadRow(username=username, callout_id=callout_id, read_at=now))
            return len(wanted - already)
