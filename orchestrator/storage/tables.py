"""The tables: cases and their audit trail, runs, steps, human tasks, the organisation.

The schema itself is created and changed only by the Alembic migrations in
``orchestrator/storage/migrations``; these classes are the mapping the code works with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as naive UTC (SQLite keeps no zone) and read back as aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base of the mapped tables."""

    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: sa.JSON, list[Any]: sa.JSON}


class CaseRow(Base):
    """One case: a workflow, its payload and where it stands."""

    __tablename__ = "cases"
    __table_args__ = (sa.Index("ix_cases_lease", "status", "lease_expires_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    workflow: Mapped[str] = mapped_column(sa.String(100))
    reference: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20))
    priority: Mapped[int] = mapped_column(default=0)
    deadline: Mapped[datetime | None]
    not_before: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(sa.String(50))
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    payload: Mapped[dict[str, Any]]
    outputs: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    error_kind: Mapped[str | None] = mapped_column(sa.String(20))
    error_step: Mapped[str | None] = mapped_column(sa.String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    exception_queue: Mapped[str] = mapped_column(sa.String(100), default="exceptions")
    robot_id: Mapped[str | None] = mapped_column(sa.String(100))
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    lease_expires_at: Mapped[datetime | None]
    run_id: Mapped[str | None] = mapped_column(sa.String(32))
    run_state: Mapped[dict[str, Any] | None]
    task_id: Mapped[str | None] = mapped_column(sa.String(32))
    purged_at: Mapped[datetime | None]


# The claim order (``orchestrator.queue.claim_statements``): priority, deadline (none last), age. An index in
# exactly that order lets the next queued case be read without sorting the queue.
sa.Index(
    "ix_cases_claim_order",
    CaseRow.status,
    CaseRow.priority.desc(),
    CaseRow.deadline.is_(None),
    CaseRow.deadline,
    CaseRow.created_at,
    CaseRow.id,
)


# A reference is unique per workflow and channel: one channel can neither see nor squat
# another's references. Cases without a channel share the channel ''.
sa.Index(
    "uq_cases_workflow_channel_reference",
    CaseRow.workflow,
    sa.func.coalesce(CaseRow.channel, ""),
    CaseRow.reference,
    unique=True,
)


class CaseEventRow(Base):
    """One transition of a case (append-only: the audit trail)."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(100))
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str] = mapped_column(sa.Text, default="")


class RunRow(Base):
    """One run (attempt) of a case by a robot."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("cases.id"), index=True)
    attempt: Mapped[int]
    robot_id: Mapped[str] = mapped_column(sa.String(100))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(20))
    error: Mapped[str | None] = mapped_column(sa.Text)


class StepRow(Base):
    """One step (one attempt of it) of a run, as the engine recorded it (masked)."""

    __tablename__ = "steps"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("cases.id"), index=True)
    run_id: Mapped[str] = mapped_column(sa.String(32))
    path: Mapped[str] = mapped_column(sa.String(300))
    kind: Mapped[str] = mapped_column(sa.String(100))
    label: Mapped[str] = mapped_column(sa.Text)
    depth: Mapped[int] = mapped_column(default=0)
    attempt: Mapped[int] = mapped_column(default=1)
    outcome: Mapped[str] = mapped_column(sa.String(20))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    duration_ms: Mapped[float] = mapped_column(sa.Float, default=0.0)
    outputs: Mapped[Any | None] = mapped_column(sa.JSON)
    error: Mapped[str | None] = mapped_column(sa.Text)
    error_kind: Mapped[str | None] = mapped_column(sa.String(20))
    system: Mapped[str | None] = mapped_column(sa.String(100))
    artifacts: Mapped[list[Any]]


class OrgUnitRow(Base):
    """An organisation unit: headquarters, a country, a branch or dealer."""

    __tablename__ = "org_units"

    id: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    parent_id: Mapped[str | None] = mapped_column(sa.String(50), sa.ForeignKey("org_units.id"))
    escalation_queue: Mapped[str | None] = mapped_column(sa.String(100))


class QueueRow(Base):
    """A human task queue, owned by one unit, with its service level."""

    __tablename__ = "queues"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    unit_id: Mapped[str] = mapped_column(sa.String(50), sa.ForeignKey("org_units.id"))
    sla_minutes: Mapped[int] = mapped_column(default=240)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    escalates_to: Mapped[str | None] = mapped_column(sa.String(100))


class UserRow(Base):
    """An agent, supervisor, ops person or admin, in one unit."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))
    unit_id: Mapped[str] = mapped_column(sa.String(50), sa.ForeignKey("org_units.id"))
    password_hash: Mapped[str] = mapped_column(sa.String(300))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    language: Mapped[str | None] = mapped_column(sa.String(10), nullable=True)
    time_zone: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class ApiTokenRow(Base):
    """A channel's API token, stored only as a hash, with the workflows it may start."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(50))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    workflows: Mapped[list[Any]]
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class TaskRow(Base):
    """A human task: what a robot (or an agent) handed to a person."""

    __tablename__ = "human_tasks"
    __table_args__ = (sa.Index("ix_tasks_queue_status", "queue", "status"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(300), unique=True)
    case_id: Mapped[str | None] = mapped_column(sa.String(32), sa.ForeignKey("cases.id"), index=True)
    run_id: Mapped[str | None] = mapped_column(sa.String(32))
    kind: Mapped[str] = mapped_column(sa.String(20))
    origin: Mapped[str] = mapped_column(sa.String(20))
    queue: Mapped[str] = mapped_column(sa.String(100), sa.ForeignKey("queues.name"))
    reason: Mapped[str] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]]
    form: Mapped[list[Any]]
    step: Mapped[str] = mapped_column(sa.String(300), default="")
    priority: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(sa.String(20))
    assignee: Mapped[str | None] = mapped_column(sa.String(100))
    answer: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(sa.String(100))
    escalation_level: Mapped[int] = mapped_column(default=0)
    breached_at: Mapped[datetime | None]
    # How the person ended it (orchestrator.humans.outcomes): corrected, done_by_hand,
    # rejected, cancelled; postponed tasks stay open with ``available_at`` set.
    outcome: Mapped[str | None] = mapped_column(sa.String(20))
    outcome_note: Mapped[str | None] = mapped_column(sa.Text)
    outcomes: Mapped[dict[str, Any] | None]
    available_at: Mapped[datetime | None]


class TaskEventRow(Base):
    """Something that happened to a task: claimed, released, comment, completed... (append-only)."""

    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    task_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("human_tasks.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(100))
    action: Mapped[str] = mapped_column(sa.String(30))
    detail: Mapped[str] = mapped_column(sa.Text, default="")


class CalloutRow(Base):
    """A pop-up for agents, kept so a browser that connects later still gets it."""

    __tablename__ = "callouts"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(sa.String(20))
    queue: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    agent: Mapped[str | None] = mapped_column(sa.String(100))
    title: Mapped[str] = mapped_column(sa.Text)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    level: Mapped[str] = mapped_column(sa.String(20), default="info")
    data: Mapped[Any | None] = mapped_column(sa.JSON)
    hints: Mapped[Any | None] = mapped_column(sa.JSON)
    case_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    run_id: Mapped[str | None] = mapped_column(sa.String(32))
    step: Mapped[str | None] = mapped_column(sa.String(300))
    task_id: Mapped[str | None] = mapped_column(sa.String(32))


class NotificationReadRow(Base):
    """A callout or task arrival one user has read (the tray's unread ones have no row)."""

    __tablename__ = "notification_reads"

    username: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    callout_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("callouts.id", ondelete="CASCADE"),
        primary_key=True,
    )
    read_at: Mapped[datetime]


class RobotRow(Base):
    """A robot process, registered with a heartbeat so a dashboard can show what it does."""

    __tablename__ = "robots"

    id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    host: Mapped[str] = mapped_column(sa.String(200))
    pid: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(20))
    case_id: Mapped[str | None] = mapped_column(sa.String(32))
    workflow: Mapped[str | None] = mapped_column(sa.String(100))
    step: Mapped[str | None] = mapped_column(sa.String(300))
    #: When the robot began its current step (the dashboard's "step `book` 3 s").
    step_started_at: Mapped[datetime | None]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    cases_done: Mapped[int] = mapped_column(default=0)


class AdminEventRow(Base):
    """One thing an administrator or operator changed from the admin screens (append-only):
    users, units, queues, tokens, vault entries, schedules. Never holds a secret."""

    __tablename__ = "admin_events"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(sa.String(100), index=True)
    action: Mapped[str] = mapped_column(sa.String(50))
    target: Mapped[str] = mapped_column(sa.String(300))
    detail: Mapped[str] = mapped_column(sa.Text, default="")
