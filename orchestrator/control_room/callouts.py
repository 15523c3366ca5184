"""Callouts to agents' browsers in real time: one poller per server, one SSE stream per tab.

Robots run in other processes (often on other machines), so a callout or a task arrival
reaches the control room through the ``callouts`` table. A :class:`CalloutHub` polls that
table for rows newer than the last it saw (one cheap indexed query every ``interval``
seconds, however many agents are connected) and fans each row out to the streams of the
agents who may see it: the agent it names, or, when it names none, every agent whose
units own its queue. :func:`stream` turns one agent's subscription into a Server-Sent
Events response (sse-starlette), which ``static/callouts.js`` shows as pop-ups.

A browser that reconnects (``Last-Event-ID``) or opens the next page (``?after=``) gets
what it missed, from the table, for up to :data:`REPLAY_WINDOW`.

The same tick keeps every page live: the hub reads the store's :class:`ChangeMarks` (the
newest callout, case transition, step record, task event and robot heartbeat, one query) and,
when one moved, sends every stream a ``changed`` event naming the topics. The event carries
no data, so it needs no audience: each page fetches its own fragment again with the user's
session (``static/live.js``), and the store's scoping applies as on any page view. New
callouts are read only when the callout mark moved, so a quiet tick is one query per server
however many browsers listen.

While it polls, the hub also asks the store every :data:`ANNOUNCE_INTERVAL` to announce
postponed tasks whose time has come (``announce_postponed_tasks``): each becomes a "task"
callout in the table, and so pops up like a new task (the worker does the same on its
housekeeping round, for when nobody listens).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

import anyio.to_thread
from loguru import logger
from sse_starlette.sse import EventSourceResponse

from orchestrator.models import ChangeMarks, StoredCallout

#: How far back a reconnecting browser is given what it missed.
REPLAY_WINDOW = timedelta(minutes=15)
#: How often the hub looks for new callouts: the main part of the pop-up latency.
POLL_INTERVAL = 0.1
#: How often pages showing SLA states are told to look again (``sla`` topic): a task becomes
#: overdue by time passing, which moves no mark in the database. No query: a clock.
SLA_TICK = 30.0
#: Rows read per poll; more wait for the next poll (a burst is spread, never lost).
BATCH = 200
#: How often a listening hub has postponed tasks that are due again announced.
ANNOUNCE_INTERVAL = 1.0


class CalloutSource(Protocol):
    """Where callouts are read from: the orchestrator's store (``CalloutStore``) fits."""

    def last_callout_id(self) -> int:
        """The highest callout id stored (0 when there is none)."""

    def callouts_since(
        self, after_id: int = 0, *, username: str | None = None, limit: int = 100
    ) -> list[StoredCallout]:
        """Callouts with an id above ``after_id``, oldest first."""


def read_marks(source: object) -> ChangeMarks | None:
    """The source's change marks, or None for a source that only stores callouts."""
    marks = getattr(source, "change_marks", None)
    return marks() if callable(marks) else None


@dataclass(frozen=True)
class Changed:
    """Something live pages show moved: ``topics`` name what (``tasks``, ``cases``...)."""

    topics: tuple[str, ...]
    at: datetime


def last_callout_id(source: CalloutSource) -> int:
    """The highest callout id stored (0 when there is none): where a new listener starts."""
    return source.last_callout_id()


@dataclass(frozen=True)
class Audience:
    """Who is listening: an agent and the queues of their units."""

    username: str
    queues: frozenset[str]

    def sees(self, callout: StoredCallout) -> bool:
        """A callout that names an agent is theirs alone; otherwise it goes to its queue's agents."""
        if callout.agent:
            return callout.agent == self.username
        return callout.queue is not None and callout.queue in self.queues


def event_payload(callout: StoredCallout) -> dict[str, Any]:
    """What the browser receives for one callout (JSON; shown with textContent, never as HTML)."""
    is_task = callout.kind == "task"
    url, link_text = None, None
    # Links are built here from ids, so nothing a robot gathered can become a link target.
    if callout.task_id:
        url, link_text = f"/tasks/{callout.task_id}", "Open task"
    elif callout.case_id and callout.queue and not callout.agent:
        # A robot's data for a queue's agents (the appointment story) comes before its task
        # exists: the link finds the case's open task when it is followed.
        url, link_text = f"/notifications/{callout.id}/open", "Open its task"
    return {
        "id": callout.id,
        "kind": callout.kind,
        "title": callout.title,
        "message": callout.message,
        "level": callout.level,
        "queue": callout.queue,
        "data": callout.data or {},
        "hints": callout.hints or [],
        "case_id": callout.case_id,
        "task_id": callout.task_id,
        "url": url,
        "link_text": link_text if not is_task or url else "Open task",
        "issued_at": callout.at.timestamp() * 1000,
    }


@dataclass(eq=False)  # identity: each tab is its own subscription
class Subscription:
    """One browser tab's share of the hub: the callouts it may see, in order, once each."""

    audience: Audience
    seen_up_to: int
    #: The change marks the tab's page shows (None: not known yet; the next tick sets them).
    marks: ChangeMarks | None = None
    queue: asyncio.Queue[StoredCallout | Changed | None] = field(default_factory=asyncio.Queue)

    def offer(self, callouts: Iterable[StoredCallout]) -> None:
        """Queue those this audience may see and has not had yet."""
        for callout in callouts:
            if callout.id > self.seen_up_to and self.audience.sees(callout):
                self.seen_up_to = callout.id
                self.queue.put_nowait(callout)

    def catch_up(self, marks: ChangeMarks, at: datetime) -> None:
        """Tell the tab which topics moved since the marks it knew; it knows these now."""
        topics = marks.changed_since(self.marks) if self.marks is not None else []
        self.marks = marks
        if topics:
            self.queue.put_nowait(Changed(tuple(topics), at))


class CalloutHub:
    """Polls the callouts table while anyone listens and hands each row to its audience."""

    def __init__(
        self,
        source: CalloutSource,
        *,
        interval: float = POLL_INTERVAL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.source = source
        self.interval = interval
        self._clock = clock
        self._subscribers: set[Subscription] = set()
        self._cursor: int | None = None
        self._next_sla_tick = time.monotonic() + SLA_TICK
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._next_announce = 0.0

    @property
    def listeners(self) -> int:
        """How many streams are open."""
        return len(self._subscribers)

    async def subscribe(
        self, audience: Audience, after: int | None = None, *, marks: ChangeMarks | None = None
    ) -> Subscription:
        """A new stream's subscription; with ``after``, the recent callouts above it come first;
        with ``marks`` (those its page was rendered with), what moved since comes next."""
        if self._closed:
            raise RuntimeError("the callout hub is closed (the server is shutting down)")
        if self._cursor is None:
            self._cursor = await anyio.to_thread.run_sync(last_callout_id, self.source)
        start = self._cursor if after is None else min(after, self._cursor)
        subscription = Subscription(audience, start, marks)
        if after is not None and after < self._cursor:
            since = self._clock() - REPLAY_WINDOW
            missed = await self._read(after, until=self._cursor)
            subscription.offer(c for c in missed if c.at >= since)
            subscription.seen_up_to = max(subscription.seen_up_to, self._cursor)
        self._subscribers.add(subscription)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll(), name="callout-hub")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to a stream (its browser went away)."""
        self._subscribers.discard(subscription)

    def close(self) -> None:
        """End every open stream (server shutdown), so no connection keeps the server waiting."""
        self._closed = True
        for subscription in list(self._subscribers):
            subscription.queue.put_nowait(None)
        self._subscribers.clear()
        if self._task is not None:
            self._task.cancel()

    async def _read(self, after: int, *, until: int | None = None) -> list[StoredCallout]:
        rows: list[StoredCallout] = []
        while True:
            batch = await anyio.to_thread.run_sync(partial(self.source.callouts_since, after, limit=BATCH))
            rows.extend(c for c in batch if until is None or c.id <= until)
            if len(batch) < BATCH or (until is not None and batch[-1].id >= until):
                return rows
            after = batch[-1].id

    async def _announce_due_tasks(self) -> None:
        announce = getattr(self.source, "announce_postponed_tasks", None)
        now = asyncio.get_running_loop().time()
        if announce is None or now < self._next_announce:
            return
        self._next_announce = now + ANNOUNCE_INTERVAL
        await anyio.to_thread.run_sync(announce)

    async def _poll(self) -> None:
        # Runs only while someone listens: an idle control room does not query the database.
        while self._subscribers and not self._closed:
            try:
                assert self._cursor is not None
                await self._announce_due_tasks()
                marks = await anyio.to_thread.run_sync(read_marks, self.source)
                batch: list[StoredCallout] = []
                if marks is None or marks.callouts > self._cursor:
                    batch = await anyio.to_thread.run_sync(
                        partial(self.source.callouts_since, self._cursor or 0, limit=BATCH)
                    )
            except Exception as error:  # a locked or restarting database: try again shortly
                logger.warning("reading callouts failed, retrying: {}", error)
                await asyncio.sleep(1.0)
                continue
            if batch:
                self._cursor = max(self._cursor or 0, batch[-1].id)
                for subscription in list(self._subscribers):
                    subscription.offer(batch)
            if marks is not None:
                now = self._clock()
                for subscription in list(self._subscribers):
                    subscription.catch_up(marks, now)
            if time.monotonic() >= self._next_sla_tick:
                self._next_sla_tick = time.monotonic() + SLA_TICK
                change = Changed(("sla",), self._clock())
                for subscription in list(self._subscribers):
                    subscription.queue.put_nowait(change)
            if len(batch) < BATCH:
                await asyncio.sleep(self.interval)


def parse_cursor(*values: str | None) -> int | None:
    """The first value that is a callout id (``Last-Event-ID`` header or ``?after=``), else None."""
    for value in values:
        text = (value or "").strip()
        # ASCII digits only: '²'.isdigit() is true, but int('²') fails; 18 digits fit any id column.
        if text.isascii() and text.isdigit() and len(text) <= 18:
            return int(text)
    return None


async def _events(hub: CalloutHub, subscription: Subscription) -> AsyncIterator[dict[str, Any]]:
    try:
        yield {"event": "ready", "data": json.dumps({"listening_as": subscription.audience.username})}
        while True:
            callout = await subscription.queue.get()
            if callout is None:
                return
            if isinstance(callout, Changed):
                change = {"topics": list(callout.topics), "at": callout.at.timestamp() * 1000}
                yield {"event": "changed", "data": json.dumps(change)}
                continue
            yield {
                "event": "task" if callout.kind == "task" else "callout",
                "id": str(callout.id),
                "data": json.dumps(event_payload(callout), default=str),
            }
    finally:
        hub.unsubscribe(subscription)


async def stream(
    hub: CalloutHub, audience: Audience, after: int | None, marks: ChangeMarks | None = None
) -> EventSourceResponse:
    """An SSE response that delivers the audience's callouts and change events until the
    browser disconnects."""
    subscription = await hub.subscribe(audience, after, marks=marks)
    # ``X-Accel-Buffering: no`` keeps a reverse proxy (nginx) from holding events back.
    return EventSourceResponse(
        _events(hub, subscription), ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


def hub_closed_quietly(hub: CalloutHub | None) -> None:
    """Close a hub if there is one (shutdown hooks call this without checking)."""
    if hub is not None:
        with contextlib.suppress(Exception):
            hub.close()
