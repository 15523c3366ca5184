"""What a batch run leaves to do: ``run.py worker --drain`` waits until it is nothing, and
``--once`` (and ``--drain``) say at the end what is left behind.

A queue is drained when none of its cases is queued (now or due for a retry later) or
running (under a live robot's lease, or an expired one waiting to be reclaimed). Cases
waiting for a person are not the robots' work: they are reported, not waited for.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ROBOT_WORK = ("queued", "running")
"""Statuses a robot may still have to work on."""


@dataclass(frozen=True)
class Backlog:
    """The cases of a queue (restricted to some workflows) that are not finished."""

    queued_now: int = 0
    """Queued and claimable now."""
    due_later: list[datetime] = field(default_factory=list)
    """When each case queued for a retry (or a later start) becomes claimable."""
    running: int = 0
    """Held by a robot whose lease is alive."""
    lease_expired: int = 0
    """Held by a robot whose lease expired (it died): reclaimed by the next claim."""
    waiting_human: Counter[str] = field(default_factory=Counter)
    """Cases waiting for a person, by the queue of their task."""

    @property
    def robot_work(self) -> int:
        """Cases a robot still has to work on (a drain waits for them)."""
        return self.queued_now + len(self.due_later) + self.running + self.lease_expired

    def describe_robot_work(self) -> str:
        """What robots still have to do, in words ("" when nothing)."""
        parts = []
        if self.queued_now:
            parts.append(f"{self.queued_now} queued")
        if self.due_later:
            parts.append(
                f"{len(self.due_later)} due for a retry (the next at {min(self.due_later):%H:%M:%S} UTC)"
            )
        if self.running:
            parts.append(f"{self.running} running")
        if self.lease_expired:
            parts.append(f"{self.lease_expired} held by a robot that stopped (reclaimed when claimed)")
        return ", ".join(parts)

    def describe_waiting(self) -> str:
        """The cases waiting for a person, by queue ("" when none)."""
        if not self.waiting_human:
            return ""
        total = sum(self.waiting_human.values())
        queues = ", ".join(f"{queue} {count}" for queue, count in sorted(self.waiting_human.items()))
        cases = f"{total} case{'s' if total != 1 else ''}"
        return f"{cases} waiting for a person (queues: {queues}); run.py tasks lists them"


def backlog(store: Any, workflows: tuple[str, ...] | list[str] = ()) -> Backlog:
    """The unfinished cases of ``workflows`` (all when empty), as of the store's clock."""
    now = store.now()
    queued_now = running = lease_expired = 0
    due_later: list[datetime] = []
    waiting: Counter[str] = Counter()
    cases = store.list_cases(
        workflow=workflows[0] if len(workflows) == 1 else None,
        status=[*ROBOT_WORK, "waiting_human"],
        limit=100_000,
    )
    for case in cases:
        if workflows and case.workflow not in workflows:
            continue
        if case.status == "queued":
            if case.not_before is not None and _aware(case.not_before) > now:
                due_later.append(_aware(case.not_before))
            else:
                queued_now += 1
        elif case.status == "running":
            if case.lease_expires_at is not None and _aware(case.lease_expires_at) <= now:
                lease_expired += 1
            else:
                running += 1
        else:
            queue = "?"
            if case.task_id:
                try:
                    queue = store.get_task(case.task_id).queue
                except Exception:  # a purged or missing task: still count the case
                    queue = "?"
            waiting[queue] += 1
    return Backlog(queued_now, due_later, running, lease_expired, waiting)


def _aware(moment: datetime) -> datetime:
    """SQLite gives naive UTC datetimes back; compare them as UTC."""
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
