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

While it polls, the hub also asks the store every :data:`ANNOUNCE_INTERVAL` to announce
postponed tasks whose time has come (``announce_postponed_tasks``): each becomes a "task"
callout in the table, and so pops up like a new task (the worker does the same on its
housekeeping round, for when nobody listens).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

import anyio.to_thread
from loguru import logger
from sse_starlette.sse import EventSourceResponse

from orchestrator.models import StoredCallout

#: How far back a reconnecting browser is given what it missed.
REPLAY_WINDOW = timedelta(minutes=15)
#: How often the hub looks for new callouts: the main part of the pop-up latency.
POLL_INTERVAL = 0.1
#: Rows read per poll; more wait for the next poll (a burst is spread, never lost).
BATCH = 200
#: How often a listening hub has postponed tasks that are due again announced.
ANNOUNCE_INTERVAL = 1.0


class CalloutSource(Protocol):
    """Where callouts are read from: the orchestrator's store (``TaskStore``) fits."""

    def last_callout_id(self) -> int:
        """The highest callout id stored (0 when there is none)."""

    def callouts_since(
        self, after_id: int = 0, *, username: str | None = None, limit: int = 100
    ) -> list[StoredCallout]:
        """Callouts with an id above ``after_id``, oldest first."""


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
        # Links are built here from ids, so nothing a robot gathered can become a link target.
        "url": f"/tasks/{callout.task_id}" if callout.task_id else None,
        "link_text": "Open task" if is_task or callout.task_id else None,
        "issued_at": callout.at.timestamp() * 1000,
    }


@dataclass(eq=False)  # identity: each tab is its own subscription
class Subscription:
    """One browser tab's share of the hub: the callouts it may see, in order, once each."""

    audience: Audience
    seen_up_to: int
    queue: asyncio.Queue[StoredCallout | None] = field(default_factory=asyncio.Queue)

    def offer(self, callouts: Iterable[StoredCallout]) -> None:
        """Queue those this audience may see and has not had yet."""
        for callout in callouts:
            if callout.id > self.seen_up_to and self.audience.sees(callout):
                self.seen_up_to = callout.id
                self.queue.put_nowait(callout)


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
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._next_announce = 0.0

    @property
    def listeners(self) -> int:
        """How many streams are open."""
        return len(self._subscribers)

    async def subscribe(self, audience: Audience, after: int | None = None) -> Subscription:
        """A new stream's subscription; with ``after``, the recent callouts above it come first."""
        if self._closed:
            raise RuntimeError("the callout hub is closed (the server is shutting down)")
        if self._cursor is None:
            self._cursor = await anyio.to_thread.run_sync(last_callout_id, self.source)
        start = self._cursor if after is None else min(after, self._cursor)
        subscription = Subscription(audience, start)
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
            if len(batch) < BATCH:
                await asyncio.sleep(self.interval)


def parse_cursor(*values: str | None) -> int | None:
    """The first value that is a callout id (``Last-Event-ID`` header or ``?after=``), else None."""
    for value in values:
        if value and value.strip().isdigit():
            return int(value.strip())
    return None


async def _events(hub: CalloutHub, subscription: Subscription) -> AsyncIterator[dict[str, Any]]:
    try:
        yield {"event": "ready", "data": json.dumps({"listening_as": subscription.audience.username})}
        while True:
            callout = await subscription.queue.get()
            if callout is None:
                return
            yield {
                "event": "task" if callout.kind == "task" else "callout",
                "id": str(callout.id),
                "data": json.dumps(event_payload(callout), default=str),
            }
    finally:
        hub.unsubscribe(subscription)


async def stream(hub: CalloutHub, audience: Audience, after: int | None) -> EventSourceResponse:
    """An SSE response that delivers the audience's callouts until the browser disconnects."""
    subscription = await hub.subscribe(audience, after)
    # ``X-Accel-Buffering: no`` keeps a reverse proxy (nginx) from holding events back.
    return EventSourceResponse(
        _events(hub, subscription), ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


def hub_closed_quietly(hub: CalloutHub | None) -> None:
    """Close a hub if there is one (shutdown hooks call this without checking)."""
    if hub is not None:
        with contextlib.suppress(Exception):
            hub.close()
