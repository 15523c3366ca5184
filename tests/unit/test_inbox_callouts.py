"""The callout hub: who receives what, once, in order, and what a reconnecting tab catches up on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestrator.control_room.callouts import (
    Audience,
    CalloutHub,
    Changed,
    event_payload,
    last_callout_id,
    parse_cursor,
)
from orchestrator.models import ChangeMarks, StoredCallout
from orchestrator.service import Orchestrator
from robots.engine.human_gateway import Callout
from robots.errors import HumanTaskRequest
from robots.language.project import Project
from tests.conftest import ROOT, run_async

MUNICH = Audience("max.agent", frozenset({"appointments", "appointment_exceptions"}))
BERLIN = Audience("anna.agent", frozenset({"address_review"}))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Orchestrator]:
    orchestrator = Orchestrator(f"sqlite:///{tmp_path / 'callouts.db'}", project=Project(ROOT))
    orchestrator.load_organisation()
    yield orchestrator
    orchestrator.close()


async def drain(queue: asyncio.Queue[StoredCallout | Changed | None], count: int) -> list[StoredCallout]:
    """``count`` callouts from a subscription, skipping change events (fails after a few
    seconds: a lost event)."""
    got: list[StoredCallout] = []
    while len(got) < count:
        item = await asyncio.wait_for(queue.get(), 5)
        if isinstance(item, StoredCallout):
            got.append(item)
    return got


def test_each_agent_gets_the_callouts_of_their_queues_and_those_naming_them(store: Orchestrator) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        hub = CalloutHub(store, interval=0.01)
        munich = await hub.subscribe(MUNICH)
        berlin = await hub.subscribe(BERLIN)
        store.push_callout(Callout(title="slots for Hannah", queue="appointments"))
        store.push_callout(Callout(title="assist for Anna", queue="assist", agent="anna.agent"))
        store.push_callout(Callout(title="for Max only", queue="address_review", agent="max.agent"))
        store.push_callout(Callout(title="nobody's", queue="hq_escalations"))
        request = HumanTaskRequest(queue="address_review", reason="implausible address", step="s")
        store.create_task(request, case_id=None, run_id=None, key="callout-test:1")
        got_munich = await drain(munich.queue, 2)
        got_berlin = await drain(berlin.queue, 2)
        await asyncio.sleep(0.1)  # anything else would have arrived by now
        extra = munich.queue.qsize() + berlin.queue.qsize()
        hub.close()
        assert extra == 0
        return [c.title for c in got_munich], [c.title for c in got_berlin]

    munich, berlin = run_async(scenario())
    assert munich == ["slots for Hannah", "for Max only"]
    assert berlin == ["assist for Anna", "New task in address_review"]


def test_a_reconnecting_tab_gets_what_it_missed_once(store: Orchestrator) -> None:
    first = store.push_callout(Callout(title="before", queue="appointments"))
    store.push_callout(Callout(title="missed 1", queue="appointments"))
    store.push_callout(Callout(title="missed 2", queue="appointments"))

    async def scenario() -> list[str]:
        hub = CalloutHub(store, interval=0.01)
        tab = await hub.subscribe(MUNICH, after=first)
        store.push_callout(Callout(title="live", queue="appointments"))
        got = await drain(tab.queue, 3)
        await asyncio.sleep(0.1)
        assert tab.queue.qsize() == 0
        hub.close()
        return [c.title for c in got]

    assert run_async(scenario()) == ["missed 1", "missed 2", "live"]


def test_closing_the_hub_ends_every_stream(store: Orchestrator) -> None:
    async def scenario() -> object:
        hub = CalloutHub(store, interval=0.01)
        tab = await hub.subscribe(MUNICH)
        hub.close()
        return await asyncio.wait_for(tab.queue.get(), 1)

    assert run_async(scenario()) is None


def test_the_event_links_only_to_the_task_by_id(store: Orchestrator) -> None:
    request = HumanTaskRequest(queue="appointments", reason="<b>call</b>", step="s")
    task_id = store.create_task(request, case_id=None, run_id=None, key="callout-test:2")
    [stored] = store.callouts_since(last_callout_id(store) - 1)
    payload = event_payload(stored)
    assert payload["url"] == f"/tasks/{task_id}"
    assert payload["message"] == "<b>call</b>"  # raw: the page inserts it as text


def test_parse_cursor() -> None:
    assert parse_cursor(None, "12") == 12
    assert parse_cursor("7", "12") == 7
    assert parse_cursor("x", "") is None


def test_a_postponed_task_pops_up_again_when_its_time_comes(store: Orchestrator) -> None:
    request = HumanTaskRequest(queue="address_review", reason="call the customer back", step="s")
    task_id = store.create_task(request, case_id=None, run_id=None, key="callout-test:postponed")
    until = datetime.now(UTC) + timedelta(seconds=1)
    store.resolve_task(task_id, "anna.agent", "postponed", until=until, note="back in a second")

    async def scenario() -> list[StoredCallout]:
        hub = CalloutHub(store, interval=0.01)
        berlin = await hub.subscribe(BERLIN)
        try:
            return await drain(berlin.queue, 1)
        finally:
            hub.close()

    [popup] = run_async(scenario())
    assert popup.kind == "task" and popup.task_id == task_id
    assert popup.at >= until
    assert event_payload(popup)["url"] == f"/tasks/{task_id}"


class CountingSource:
    """The store, counting the hub's queries."""

    def __init__(self, store: Orchestrator) -> None:
        self.store = store
        self.marks_read = 0
        self.callouts_read = 0

    def last_callout_id(self) -> int:
        return self.store.last_callout_id()

    def change_marks(self) -> ChangeMarks:
        self.marks_read += 1
        return self.store.change_marks()

    def callouts_since(self, after_id: int = 0, **options: Any) -> list[StoredCallout]:
        self.callouts_read += 1
        return self.store.callouts_since(after_id, **options)


def test_every_tab_hears_what_moved_with_one_query_per_tick(store: Orchestrator) -> None:
    source = CountingSource(store)

    async def scenario() -> list[tuple[str, ...]]:
        hub = CalloutHub(source, interval=0.01)
        rendered = store.change_marks()
        tabs = [await hub.subscribe(MUNICH, marks=rendered) for _ in range(20)]
        # A task arrives between rendering the pages and their first tick: not lost.
        request = HumanTaskRequest(queue="appointments", reason="no slot", step="s")
        store.create_task(request, case_id=None, run_id=None, key="live-test:1")
        # Each tab gets the task's pop-up and the change.
        first = [await asyncio.wait_for(tab.queue.get(), 5) for tab in tabs for _ in range(2)]
        changes = [item.topics for item in first if isinstance(item, Changed)]
        await asyncio.sleep(0.2)  # quiet ticks: marks only, no callout read
        source.callouts_read = 0
        marks_before = source.marks_read
        await asyncio.sleep(0.2)
        quiet_ticks = source.marks_read - marks_before
        hub.close()
        assert source.callouts_read == 0
        assert 5 <= quiet_ticks <= 25, "one marks query per tick, not one per tab"
        return changes

    changes = run_async(scenario())
    assert len(changes) == 20
    assert all("tasks" in topics for topics in changes)


def test_change_marks_round_trip_through_a_page() -> None:
    marks = ChangeMarks(callouts=3, cases=5, steps=8, tasks=13, robots=21)
    assert ChangeMarks.parse(marks.token()) == marks
    assert ChangeMarks.parse("1.2.x") is None
    assert ChangeMarks(cases=6).changed_since(ChangeMarks(cases=5)) == ["cases"]
