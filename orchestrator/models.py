"""What the orchestrator's API returns: plain, immutable snapshots (pydantic, JSON-ready).

They are copies of rows at the moment of reading; changing one changes nothing stored.
The HTTP API can return them as they are (``model_dump(mode="json")``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from robots.engine.records import RunState

CaseStatus = Literal[
    "queued",
    "running",
    "done",
    "done_by_hand",
    "rejected",
    "failed_business",
    "failed_system",
    "waiting_human",
    "cancelled",
]
FINISHED: frozenset[str] = frozenset(
    {"done", "done_by_hand", "rejected", "failed_business", "failed_system", "cancelled"}
)
"""States in which a case is finished (retention may purge its personal data). ``done``: a
robot ran the workflow to its end (its steps verified the effect); ``done_by_hand``: a person
recorded doing the work; ``rejected``: a person refused it with a business reason."""

TaskStatus = Literal["open", "claimed", "completed", "returned", "cancelled"]
OPEN_TASK: frozenset[str] = frozenset({"open", "claimed"})
Role = Literal["agent", "supervisor", "ops", "admin"]
ROLES: tuple[str, ...] = ("agent", "supervisor", "ops", "admin")


class _Snapshot(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class Case(_Snapshot):
    """A case as stored: workflow, reference, payload, state, outcome."""

    id: str
    workflow: str
    reference: str
    status: CaseStatus
    priority: int
    deadline: datetime | None
    not_before: datetime | None
    channel: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    payload: dict[str, Any]
    outputs: dict[str, Any] | None
    error: str | None
    error_kind: str | None
    error_step: str | None
    attempts: int = Field(description="How often a robot claimed the case.")
    failures: int = Field(description="System failures since the case was last (re)queued by a person.")
    max_attempts: int
    robot_id: str | None = Field(description="The robot holding the case while it runs.")
    lease_expires_at: datetime | None
    task_id: str | None = Field(description="The human task the case waits for (or waited for last).")
    purged_at: datetime | None = Field(description="When retention removed its personal data.")


class Transition(_Snapshot):
    """One entry of a case's audit trail."""

    id: int
    case_id: str
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    reason: str


class RunInfo(_Snapshot):
    """One run (attempt) of a case."""

    id: str
    case_id: str
    attempt: int
    robot_id: str
    started_at: datetime
    ended_at: datetime | None
    status: str
    error: str | None


class StepEntry(_Snapshot):
    """A step record as stored (masked by the engine)."""

    id: int
    case_id: str
    run_id: str
    path: str
    kind: str
    label: str
    depth: int
    attempt: int
    outcome: str
    started_at: datetime
    ended_at: datetime | None
    duration_ms: float
    outputs: Any
    error: str | None
    error_kind: str | None
    system: str | None
    artifacts: list[Any]


class HumanTask(_Snapshot):
    """A task in a human queue."""

    id: str
    key: str
    case_id: str | None
    run_id: str | None
    kind: str = Field(description="'escalation' (the run ended) or 'await_human' (the run waits).")
    origin: str = Field(description="'escalate' step, robot 'failure', 'await_human' or 'manual'.")
    queue: str
    reason: str
    data: dict[str, Any]
    form: list[Any]
    step: str
    priority: int
    status: TaskStatus
    assignee: str | None
    answer: dict[str, Any] | None
    created_at: datetime
    due_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    escalation_level: int
    breached_at: datetime | None
    outcome: str | None = Field(
        None, description="How the person ended it: corrected, done_by_hand, rejected, cancelled."
    )
    outcome_note: str | None = Field(None, description="The note (done by hand) or business reason.")
    outcomes: dict[str, Any] | None = Field(
        None, description="What the workflow's step offered (name -> customer texts); None: defaults."
    )
    available_at: datetime | None = Field(None, description="A postponed task is worked again from then.")


class TaskEvent(_Snapshot):
    """Something that happened to a task (claim, comment, completion...)."""

    id: int
    task_id: str
    at: datetime
    actor: str
    action: str
    detail: str


class CaseTimeline(BaseModel):
    """Everything that happened to a case: transitions, runs, steps and tasks."""

    case: Case
    transitions: list[Transition]
    runs: list[RunInfo]
    steps: list[StepEntry]
    tasks: list[HumanTask]

    def entries(self) -> list[Transition | StepEntry]:
        """Transitions and step records in the order they happened."""
        merged: list[Transition | StepEntry] = [*self.transitions, *self.steps]
        return sorted(
            merged, key=lambda entry: entry.at if isinstance(entry, Transition) else entry.started_at
        )


class OrgUnit(_Snapshot):
    """An organisation unit."""

    id: str
    name: str
    parent_id: str | None
    escalation_queue: str | None


class Queue(_Snapshot):
    """A human task queue."""

    name: str
    unit_id: str
    sla_minutes: int
    description: str
    escalates_to: str | None


class User(_Snapshot):
    """A person who works tasks (never carries the password hash)."""

    username: str
    display_name: str
    role: Role
    unit_id: str
    active: bool
    created_at: datetime
    language: str | None = Field(
        default=None, description="The user's language ('de', 'en'); None: the browser's."
    )
    time_zone: str | None = Field(
        default=None, description="IANA time zone for times shown; None: the server's."
    )


class ApiToken(_Snapshot):
    """A channel's token (its hash stays in the database)."""

    id: str
    channel: str
    workflows: list[str] = Field(description="Workflows the token may start; ['*'] for all.")
    description: str
    created_at: datetime
    revoked_at: datetime | None

    def allows(self, workflow: str) -> bool:
        """Whether this token may start cases of ``workflow``."""
        return self.revoked_at is None and ("*" in self.workflows or workflow in self.workflows)


class StoredCallout(_Snapshot):
    """A pop-up for agents; ``kind`` is 'callout' (from a robot) or 'task' (a task arrived)."""

    id: int
    at: datetime
    kind: str
    queue: str | None
    agent: str | None
    title: str
    message: str
    level: str
    data: Any
    hints: Any
    case_id: str | None
    run_id: str | None
    step: str | None
    task_id: str | None


class Notification(_Snapshot):
    """A callout or task arrival in a user's tray: read or not, and the task it leads to
    (its own, or the open task of its case that the user may see)."""

    callout: StoredCallout
    read: bool
    task_id: str | None = None


class ChangeMarks(_Snapshot):
    """High-water marks of what live pages show, read in one query: when one moves, the
    pages that show it are out of date. Ids only grow; a heartbeat time moves on."""

    callouts: int = 0
    cases: int = 0
    steps: int = 0
    tasks: int = 0
    robots: int = Field(0, description="A checksum of the robots' count and newest heartbeat.")

    TOPICS: ClassVar[tuple[str, ...]] = ("callouts", "cases", "steps", "tasks", "robots")

    def changed_since(self, before: ChangeMarks) -> list[str]:
        """The topics whose mark moved since ``before``."""
        return [t for t in self.TOPICS if getattr(self, t) != getattr(before, t)]

    def token(self) -> str:
        """The marks as a short text a page carries (``1.2.3.4.5``), read by :meth:`parse`."""
        return ".".join(str(getattr(self, t)) for t in self.TOPICS)

    @classmethod
    def parse(cls, token: str | None) -> ChangeMarks | None:
        """The marks a page was rendered with, or None for a token that is not one."""
        parts = (token or "").split(".")
        if len(parts) != len(cls.TOPICS) or not all(p.isascii() and p.isdigit() for p in parts):
            return None
        return cls(**{t: int(p) for t, p in zip(cls.TOPICS, parts, strict=True)})


class RobotInfo(_Snapshot):
    """A robot process and what it does now."""

    id: str
    host: str
    pid: int
    status: str = Field(description="'idle', 'busy' or 'stopped'.")
    case_id: str | None
    workflow: str | None
    step: str | None
    started_at: datetime
    heartbeat_at: datetime
    cases_done: int
    step_started_at: datetime | None = Field(None, description="When the current step began.")


class Claim(BaseModel):
    """A robot's lease on a case: pass it back to heartbeat, checkpoint and finish."""

    model_config = ConfigDict(frozen=True)

    case: Case
    robot_id: str
    token: str = Field(description="Fences this claim: a later claim of the same case gets another.")
    run_id: str
    attempt: int
    state: RunState = Field(description="The checkpoint to resume from (empty for a first run).")
    reclaimed: bool = Field(description="The previous robot's lease had expired (it died).")


class ClaimRequest(BaseModel):
    """What a robot claims next when it finishes a case (``finish_run_and_claim_next``)."""

    model_config = ConfigDict(frozen=True)

    lease_seconds: float
    workflows: list[str] | None = Field(None, description="Only cases of these workflows (None: all).")
