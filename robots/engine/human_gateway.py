"""The robot's side of the human task queue: one small interface, an in-memory default.

``escalate`` and ``await_human`` create tasks and ``callout`` pushes pop-ups through a
``HumanGateway``. The orchestrator implements it on durable storage; ``InMemoryHumans`` is
the embedded default for local runs and tests.
"""

from __future__ import annotations

import itertools
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from robots.errors import HumanTaskRequest


@dataclass
class Callout:
    """A real-time pop-up for agents: a title, a message, data and hints."""

    title: str
    message: str = ""
    queue: str | None = None
    agent: str | None = None
    data: Any = field(default_factory=dict)
    hints: Any = field(default_factory=list)
    level: str = "info"
    case_id: str = ""
    run_id: str = ""
    step: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class HumanTask:
    """A task as the in-memory gateway keeps it."""

    id: str
    request: HumanTaskRequest
    case_id: str
    run_id: str
    key: str
    status: str = "open"  # open | completed | cancelled
    answer: dict[str, Any] | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class HumanGateway(ABC):
    """Where robots hand work to humans.

    ``create_task`` must be idempotent on ``key`` (the case and step): a resumed run that
    reaches the same ``await_human`` again gets the same task back, never a second one.
    """

    @abstractmethod
    def create_task(self, request: HumanTaskRequest, *, case_id: str, run_id: str, key: str) -> str:
        """Create (or find, by ``key``) the task; its id."""

    @abstractmethod
    def answer_for(self, task_id: str) -> dict[str, Any] | None:
        """The completed form's values, or None while the task is open."""

    @abstractmethod
    def push_callout(self, callout: Callout) -> None:
        """Deliver a callout to the agents it names (now, or as soon as they connect)."""

    def reopen_task(self, task_id: str, request: HumanTaskRequest) -> None:
        """Put an answered task back in front of a person with a new reason, data and form
        (``await_human`` with ``reopen``: e.g. the slot agreed was taken meanwhile, here are
        the free ones now); ``answer_for`` is None again until they answer. A task that is
        open already, or that the step ``request.step`` reopened already, is left as it is (a
        resumed run reaching the step again keeps the answer given meanwhile)."""
        raise NotImplementedError(f"{type(self).__name__} cannot reopen tasks")


class InMemoryHumans(HumanGateway):
    """Tasks and callouts in this process. ``auto_answer`` answers tasks at once (tests, demos)."""

    def __init__(
        self, auto_answer: Callable[[HumanTaskRequest], dict[str, Any] | None] | None = None
    ) -> None:
        self.tasks: dict[str, HumanTask] = {}
        self.callouts: list[Callout] = []
        self._by_key: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._auto_answer = auto_answer

    def create_task(self, request: HumanTaskRequest, *, case_id: str, run_id: str, key: str) -> str:
        with self._lock:
            if key in self._by_key:
                return self._by_key[key]
            task_id = f"T{next(self._ids):06d}"
            self.tasks[task_id] = HumanTask(task_id, request, case_id, run_id, key)
            self._by_key[key] = task_id
        if self._auto_answer is not None:
            answer = self._auto_answer(request)
            if answer is not None:
                self.complete(task_id, answer)
        return task_id

    def answer_for(self, task_id: str) -> dict[str, Any] | None:
        task = self.tasks.get(task_id)
        return None if task is None or task.status != "completed" else task.answer

    def complete(self, task_id: str, answer: dict[str, Any]) -> None:
        """Complete a task with the form's values (what an agent does in the inbox)."""
        task = self.tasks[task_id]
        task.status, task.answer = "completed", dict(answer)

    def reopen_task(self, task_id: str, request: HumanTaskRequest) -> None:
        task = self.tasks[task_id]
        if task.status == "open" or (request.step and task.request.step == request.step):
            return
        task.request, task.status, task.answer = request, "open", None
        if self._auto_answer is not None:
            answer = self._auto_answer(request)
            if answer is not None:
                self.complete(task_id, answer)

    def open_tasks(self) -> list[HumanTask]:
        """Tasks nobody has completed yet."""
        return [task for task in self.tasks.values() if task.status == "open"]

    def push_callout(self, callout: Callout) -> None:
        with self._lock:
            self.callouts.append(callout)
