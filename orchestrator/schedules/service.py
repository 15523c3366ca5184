"""Schedules and batch runs: turning files, queries and fixed payloads into cases on time.

``ScheduleService`` is the small API the CLI and the control room use::

    service = ScheduleService(store, engine=store.engine, schedules_dir="schedules")
    service.list_schedules()          # name, workflow, timing, paused, next fire, last fire
    service.pause("nightly_activations", actor="ops:anna")
    service.resume("nightly_activations", actor="ops:anna")
    service.run_now("nightly_activations")           # -> FireSummary
    service.start() ... service.shutdown()           # the APScheduler 3 background scheduler

**Exactly once.** Every case a fire creates has the reference
``<schedule>@<fire time UTC>/<row key>`` and the case store never creates one
(workflow, reference) twice, so however often a fire runs, each row becomes one case.
On top of that a fire is *claimed* in the ``schedule_fires`` table (unique per schedule and
fire time): when two scheduler processes wake for the same fire, one does the work and the
other records nothing and returns ``already_fired``. A claim whose owner stopped
heart-beating (the process died mid-batch) is taken over after ``stale_after`` and the fire
runs again; the references make that safe.

**APScheduler.** The jobs live in APScheduler's ``SQLAlchemyJobStore`` on the same
database (table ``schedule_jobs``, created with the others by the orchestrator's
migrations), so a scheduler that was down knows which fires it missed. Our own executor hands
APScheduler's due run times to ``fire_due``, which applies the schedule's misfire policy
(``MisfireSpec``) and fires. Calendars are applied by the trigger (``BusinessDayTrigger``)
and again at fire time.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from loguru import logger
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from orchestrator.schedules.model import (
    Schedule,
    WorkflowInputs,
    load_schedules,
    project_workflows,
    schedule_files,
)
from orchestrator.schedules.sources import SourceError, SourceRow, read_rows
from orchestrator.storage import db
from robots.errors import Problem, TandemError
from robots.language.registry import suggest

__all__ = [
    "CaseCreator",
    "FireSummary",
    "RejectedRow",
    "ScheduleError",
    "ScheduleService",
    "ScheduleStatus",
    "fire_reference",
    "select_fire_times",
]

FireKind = Literal["scheduled", "manual"]
FireStatus = Literal["done", "failed", "skipped", "missed", "already_fired", "running_elsewhere"]


class CaseCreator(Protocol):
    """What a schedule needs from the case store: idempotent case creation.

    ``create_case`` returns ``(case, created)``; the same (workflow, reference) is never
    created twice (``created`` is False then). A payload that does not fit the workflow
    raises an exception with a ``problems`` list; any other exception means the store
    itself failed.
    """

    def create_case(
        self,
        workflow: str,
        reference: str,
        payload: dict[str, Any],
        *,
        priority: int = 0,
        deadline: datetime | None = None,
        not_before: datetime | None = None,
        actor: str = "api",
        channel: str | None = None,
    ) -> tuple[Any, bool]:
        """Create a queued case, or return the existing one with this reference."""
        ...


class ScheduleError(TandemError):
    """A schedule operation cannot be done (unknown name, no case store); says how to fix it."""


# -- the fire record ------------------------------------------------------------------------------

# The mapping the service works with. The tables themselves are created by the orchestrator's
# Alembic migrations (``0002_schedule_tables``, with APScheduler's ``schedule_jobs``), so a
# database opened by ``Orchestrator(migrate=True)`` has them.
metadata = sa.MetaData()

fires_table = sa.Table(
    "schedule_fires",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("schedule", sa.String(200), nullable=False),
    sa.Column("fire_time", sa.DateTime, nullable=False, comment="UTC"),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("heartbeat_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("created", sa.Integer, nullable=False, default=0),
    sa.Column("existed", sa.Integer, nullable=False, default=0),
    sa.Column("rejected", sa.Integer, nullable=False, default=0),
    sa.Column("rejections", sa.Text, nullable=False, default="[]"),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.UniqueConstraint("schedule", "fire_time", name="uq_schedule_fires_fire"),
)

states_table = sa.Table(
    "schedule_states",
    metadata,
    sa.Column("schedule", sa.String(200), primary_key=True),
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("file_paused", sa.Boolean, nullable=False, comment="the file's paused: when ops changed it"),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
)

JOBS_TABLE = "schedule_jobs"
_PROGRESS_EVERY = timedelta(seconds=5)
_FINAL = ("done", "skipped", "missed")
# Rejection reasons kept per fire in the database (the summary returned keeps them all).
_MAX_STORED_REJECTIONS = 500


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"a fire time needs a time zone, got {moment!r}")
    return moment.astimezone(UTC)


def _db(moment: datetime) -> datetime:
    """Naive UTC, the same on SQLite and PostgreSQL."""
    return _utc(moment).replace(tzinfo=None)


def _from_db(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None else None


# The case store takes references of up to 200 characters.
_MAX_KEY = 120


def fire_reference(schedule: str, fire_time: datetime, key: str) -> str:
    """The case reference of one row of one fire: ``nightly@2026-11-23T01:00:00Z/K-1001``.

    A very long key is shortened to its start plus a hash of the whole, so it stays unique
    and the reference fits the case store.
    """
    if len(key) > _MAX_KEY:
        key = f"{key[:80]}~{hashlib.sha256(key.encode()).hexdigest()[:24]}"
    return f"{schedule}@{_utc(fire_time):%Y-%m-%dT%H:%M:%SZ}/{key}"


# -- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RejectedRow:
    """A source row that did not become a case, and why."""

    where: str
    key: str | None
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        key = f" (key {self.key})" if self.key else ""
        return f"{self.where}{key}: {'; '.join(self.reasons)}"


@dataclass
class FireSummary:
    """What one fire did: cases created, rows whose case already existed, rows rejected."""

    schedule: str
    fire_time: datetime
    kind: FireKind
    status: FireStatus
    total: int = 0
    created: int = 0
    existed: int = 0
    rejections: list[RejectedRow] = field(default_factory=list)
    message: str = ""
    references: list[str] = field(default_factory=list)
    """The references of the rows that became (or already were) cases, in source order."""
    recorded_rejected: int | None = None
    """From the fire record: how many rows were rejected (the details may be capped or purged)."""

    @property
    def rejected(self) -> int:
        """How many rows were rejected."""
        return self.recorded_rejected if self.recorded_rejected is not None else len(self.rejections)

    def __str__(self) -> str:
        head = f"{self.schedule} @ {self.fire_time:%Y-%m-%d %H:%M:%S %Z} ({self.kind}): {self.status}"
        if self.status in ("done", "failed"):
            head += (
                f" - {self.total} rows: {self.created} created, {self.existed} already existed, "
                f"{self.rejected} rejected"
            )
        lines = [head]
        if self.message:
            lines.append(f"  {self.message}")
        lines += [f"  rejected {rejection}" for rejection in self.rejections]
        return "\n".join(lines)


@dataclass(frozen=True)
class FireProgress:
    """Progress of a running fire (for a progress bar)."""

    schedule: str
    done: int
    total: int
    created: int
    existed: int
    rejected: int


@dataclass(frozen=True)
class ScheduleStatus:
    """One line of the dashboard's schedule list."""

    name: str
    workflow: str
    when: str
    timezone: str
    paused: bool
    next_fire: datetime | None
    """The next fire time (in the schedule's zone); None while paused."""
    last_fire: FireSummary | None
    file: str
    description: str


# -- misfire policy --------------------------------------------------------------------------------


def select_fire_times(
    schedule: Schedule, due: Sequence[datetime], now: datetime
) -> tuple[list[datetime], list[datetime]]:
    """Which of the ``due`` fire times run now, and which are missed, by the misfire policy.

    Returns ``(to_fire, missed)``; see ``MisfireSpec`` for the policies.
    """
    ordered = sorted(_utc(moment) for moment in due)
    grace = schedule.misfire.grace_time
    in_time = [moment for moment in ordered if _utc(now) - moment <= grace]
    late = [moment for moment in ordered if moment not in in_time]
    policy = schedule.misfire.policy
    if policy == "run_all":
        return in_time, late
    # run_once coalesces the fires within grace into the latest one; skip runs only the latest
    # due fire, and only when it is on time - which is the same selection with skip's short
    # default grace. The latest due fire is the least late, so it is in time if any is.
    if in_time:
        return [ordered[-1]], ordered[:-1]
    return [], ordered


# -- the service ----------------------------------------------------------------------------------


def _default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _reasons(error: Exception) -> tuple[str, ...]:
    problems = getattr(error, "problems", None)
    if isinstance(problems, list | tuple) and problems:
        texts = []
        for problem in problems:
            if isinstance(problem, tuple) and len(problem) == 2:
                texts.append(f"{problem[0]}: {problem[1]}")
            else:
                texts.append(str(problem))
        return tuple(texts)
    return (str(error).splitlines()[0] if str(error) else type(error).__name__,)


def _is_store_failure(error: Exception) -> bool:
    """Whether ``create_case`` failed because the store did (abort) rather than the row (reject)."""
    return isinstance(error, SQLAlchemyError | OSError | ConnectionError) and not hasattr(error, "problems")


class ScheduleService:
    """Fires schedules into cases; pause, resume, run now, list; and the background scheduler.

    Every method works from any process that reaches the database (the dashboard and the
    scheduler may be different processes): pause state and fire records are in the
    database, not in memory.
    """

    def __init__(
        self,
        cases: CaseCreator | None,
        *,
        engine: sa.Engine | None = None,
        database_url: str | None = None,
        schedules_dir: Path | str | None = None,
        schedules: Sequence[Schedule] | None = None,
        root: Path | str | None = None,
        workflows: WorkflowInputs | None = None,
        owner: str | None = None,
        stale_after: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``cases`` is the case store (None: list/pause/resume only).

        ``engine`` (or ``database_url``, default ``TANDEM_DATABASE_URL`` or ./tandem.db; best
        the case store's own engine, ``store.engine``) holds the fire records, the pause state
        and APScheduler's jobs. Their tables come with the orchestrator's migrations: a given
        engine's database is migrated already (the case store does that when it opens it), one
        opened here from ``database_url`` is migrated here. Schedules come from
        ``schedules`` or from the YAML files under ``schedules_dir`` (default
        ``<root>/schedules``); ``root`` (default ``TANDEM_HOME`` or the working folder) is
        where relative source files are found.
        """
        self.cases = cases
        self.root = Path(root or os.environ.get("TANDEM_HOME") or Path.cwd())
        self.schedules_dir = Path(schedules_dir) if schedules_dir else self.root / "schedules"
        if engine is None:
            engine = db.create_engine(database_url)
            db.migrate(engine)
        self.engine = engine
        self.owner = owner or _default_owner()
        self.stale_after = stale_after
        self._clock = clock or (lambda: datetime.now(UTC))
        self._workflows = workflows
        self._given = list(schedules) if schedules is not None else None
        self.problems: list[Problem] = []
        self.schedules: dict[str, Schedule] = {}
        self._scheduler: _BackgroundScheduler | None = None
        self._signature: tuple[tuple[str, int], ...] = ()
        self._reload_lock = threading.Lock()
        self.reload()

    # -- schedules -------------------------------------------------------------------------

    def _files_signature(self) -> tuple[tuple[str, int], ...]:
        return tuple((str(path), path.stat().st_mtime_ns) for path in schedule_files(self.schedules_dir))

    def refresh(self) -> None:
        """Read the schedule files again if one was added, changed or removed since the last read."""
        if self._given is not None:
            return
        with self._reload_lock:
            if self._files_signature() != self._signature:
                self.reload()

    def reload(self) -> list[Problem]:
        """Read the schedule files again; returns their problems (files with problems are left out)."""
        self._signature = self._files_signature() if self._given is None else ()
        if self._given is not None:
            self.schedules = {schedule.name: schedule for schedule in self._given}
            self.problems = []
        else:
            workflows = self._workflows if self._workflows is not None else project_workflows(self.root)
            self.schedules, self.problems = load_schedules(self.schedules_dir, workflows=workflows)
        for problem in self.problems:
            logger.warning("schedule problem: {}", problem)
        if self._scheduler is not None:
            self._sync_jobs()
        return self.problems

    def schedule(self, name: str) -> Schedule:
        """The schedule called ``name``; ``ScheduleError`` (with a suggestion) otherwise."""
        self.refresh()
        if name in self.schedules:
            return self.schedules[name]
        broken = [p for p in self.problems if Path(p.file).stem == name]
        if broken:
            raise ScheduleError(
                f"schedule {name!r} has problems and is not loaded:\n" + "\n".join(map(str, broken))
            )
        hint = (
            suggest(name, set(self.schedules)) or f"schedules: {', '.join(sorted(self.schedules)) or 'none'}"
        )
        raise ScheduleError(f"no schedule named {name!r}; {hint}")

    def now(self) -> datetime:
        """The current time (UTC) of this service's clock."""
        return _utc(self._clock())

    # -- pause / resume / list -----------------------------------------------------------------

    def is_paused(self, name: str) -> bool:
        """Whether ``name`` is paused: by ops (pause/resume), else by the file's ``paused:``.

        An ops decision holds while the file's flag stays what it was then; editing the
        file's ``paused:`` afterwards wins again.
        """
        schedule = self.schedule(name)
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(states_table).where(states_table.c.schedule == name)).first()
        if row is not None and row.file_paused == schedule.paused:
            return bool(row.paused)
        return schedule.paused

    def pause(self, name: str, *, actor: str = "ops") -> None:
        """Pause ``name``: its fires are skipped until ``resume`` (run_now still works)."""
        self._set_paused(name, True, actor)

    def resume(self, name: str, *, actor: str = "ops") -> None:
        """Resume ``name``; fires missed while paused are not caught up."""
        self._set_paused(name, False, actor)

    def _set_paused(self, name: str, paused: bool, actor: str) -> None:
        schedule = self.schedule(name)
        values = {
            "paused": paused,
            "file_paused": schedule.paused,
            "changed_by": actor,
            "changed_at": _db(self.now()),
        }
        with self.engine.begin() as connection:
            updated = connection.execute(
                sa.update(states_table).where(states_table.c.schedule == name).values(**values)
            ).rowcount
            if not updated:
                connection.execute(sa.insert(states_table).values(schedule=name, **values))
        logger.info("schedule {} {} by {}", name, "paused" if paused else "resumed", actor)

    def list_schedules(self) -> list[ScheduleStatus]:
        """Every schedule with its timing, pause state, next fire time and last fire."""
        self.refresh()
        now = self.now()
        result = []
        for name, schedule in sorted(self.schedules.items()):
            paused = self.is_paused(name)
            upcoming = [] if paused else schedule.next_fire_times(now)
            last = self.fires(name, limit=1)
            result.append(
                ScheduleStatus(
                    name=name,
                    workflow=schedule.workflow,
                    when=schedule.when(),
                    timezone=schedule.timezone,
                    paused=paused,
                    next_fire=upcoming[0] if upcoming else None,
                    last_fire=last[0] if last else None,
                    file=schedule.file,
                    description=schedule.description,
                )
            )
        return result

    def fires(self, name: str | None = None, *, limit: int = 20) -> list[FireSummary]:
        """The latest fire records (newest first), of one schedule or of all."""
        query = sa.select(fires_table).order_by(fires_table.c.fire_time.desc(), fires_table.c.id.desc())
        if name is not None:
            query = query.where(fires_table.c.schedule == name)
        with self.engine.connect() as connection:
            rows = connection.execute(query.limit(limit)).all()
        return [self._summary_of(row) for row in rows]

    def purge_rejections(self, older_than: timedelta, *, now: datetime | None = None) -> int:
        """Forget the rejected rows' details (keys, reasons with the values) of old fires; how many.

        The reasons quote the row's values, which may be personal data; the counts, the
        status and who fired when are kept. Meant for the same retention job that purges the
        cases' personal data.
        """
        cutoff = _db((now or self.now()) - older_than)
        with self.engine.begin() as connection:
            purged = connection.execute(
                sa.update(fires_table)
                .where(
                    (fires_table.c.fire_time < cutoff)
                    & (fires_table.c.status != "running")
                    & (fires_table.c.rejections != "[]")
                )
                .values(rejections="[]")
            ).rowcount
        if purged:
            logger.info("forgot the rejected rows of {} fires older than {}", purged, older_than)
        return int(purged)

    # -- firing --------------------------------------------------------------------------------

    def run_now(self, name: str, *, progress: Callable[[FireProgress], None] | None = None) -> FireSummary:
        """Fire ``name`` now, ignoring pause and calendar (an operator asked for it)."""
        fire_time = self.now().replace(microsecond=0)
        return self.fire(name, fire_time, kind="manual", progress=progress)

    def fire_due(
        self, name: str, due: Sequence[datetime], *, now: datetime | None = None
    ) -> list[FireSummary]:
        """Handle fire times that came due (from APScheduler) by the schedule's misfire policy."""
        schedule = self.schedule(name)
        to_fire, missed = select_fire_times(schedule, due, now or self.now())
        summaries = [self._record_missed(schedule, moment, to_fire) for moment in missed]
        summaries += [self.fire(name, moment) for moment in to_fire]
        return summaries

    def fire(
        self,
        name: str,
        fire_time: datetime,
        *,
        kind: FireKind = "scheduled",
        progress: Callable[[FireProgress], None] | None = None,
    ) -> FireSummary:
        """Run one fire of ``name`` for ``fire_time``: read the source, create the cases.

        A scheduled fire is skipped (and recorded) while the schedule is paused or on a
        closed calendar day. Returns what was done; rows that were rejected are listed with
        their reasons, and the other rows still became cases.
        """
        schedule = self.schedule(name)
        fire_time = _utc(fire_time).replace(microsecond=0)
        summary = FireSummary(name, fire_time, kind, "done")
        if kind == "scheduled":
            reason = "paused" if self.is_paused(name) else schedule.closed_reason(fire_time)
            if reason is not None:
                summary.status, summary.message = "skipped", f"skipped: {reason}"
                if self._claim(summary) is None:
                    self._finish(summary)
                logger.info("schedule {} fire {} skipped: {}", name, fire_time, reason)
                return summary
        if self.cases is None:
            raise ScheduleError(
                f"schedule {name!r}: no case store was given to the schedule service; "
                "pass the orchestrator's store: ScheduleService(store, engine=store.engine)"
            )
        elsewhere = self._claim(summary)
        if elsewhere is not None:
            return elsewhere
        try:
            rows = read_rows(schedule, fire_time, root=self.root)
        except Exception as error:
            # SourceError explains itself; anything else (a corrupt workbook...) is named by type.
            text = str(error) if isinstance(error, SourceError) else f"{type(error).__name__}: {error}"
            summary.status, summary.message = "failed", f"cannot read the source: {text}"
            self._finish(summary)
            logger.error("schedule {} fire {} failed: {}", name, fire_time, summary.message)
            return summary
        summary.total = len(rows)
        try:
            self._create_cases(schedule, summary, rows, progress)
        except Exception as error:
            # The store failed (not the row): the fire stops and can be run again; the cases
            # made so far are found again by their references then.
            summary.status = "failed"
            at = summary.created + summary.existed + summary.rejected + 1
            summary.message = f"the case store failed at row {at}: {error}"
            self._finish(summary)
            logger.error("schedule {} fire {} failed: {}", name, fire_time, summary.message)
            return summary
        self._finish(summary)
        logger.info(
            "schedule {} fire {}: {} created, {} already existed, {} rejected",
            name,
            fire_time,
            summary.created,
            summary.existed,
            summary.rejected,
        )
        return summary

    def _create_cases(
        self,
        schedule: Schedule,
        summary: FireSummary,
        rows: list[SourceRow],
        progress: Callable[[FireProgress], None] | None,
    ) -> None:
        assert self.cases is not None
        deadline = summary.fire_time + schedule.deadline if schedule.deadline is not None else None
        last_beat = self.now()
        for index, row in enumerate(rows, start=1):
            if row.problem is not None or row.key is None:
                summary.rejections.append(RejectedRow(row.where, row.key, (row.problem or "no key",)))
            else:
                reference = fire_reference(schedule.name, summary.fire_time, row.key)
                try:
                    _, created = self.cases.create_case(
                        schedule.workflow,
                        reference,
                        dict(row.payload),
                        priority=schedule.priority,
                        deadline=deadline,
                        actor=f"schedule:{schedule.name}",
                        channel="schedule",
                    )
                except Exception as error:
                    if _is_store_failure(error):
                        raise
                    summary.rejections.append(RejectedRow(row.where, row.key, _reasons(error)))
                else:
                    summary.references.append(reference)
                    if created:
                        summary.created += 1
                    else:
                        summary.existed += 1
            if progress is not None:
                progress(
                    FireProgress(
                        schedule.name,
                        index,
                        summary.total,
                        summary.created,
                        summary.existed,
                        summary.rejected,
                    )
                )
            # Often enough for the dashboard's progress, rarely enough not to slow the batch.
            if self.now() - last_beat > min(self.stale_after / 10, _PROGRESS_EVERY):
                self._heartbeat(summary)
                last_beat = self.now()

    # -- fire records -----------------------------------------------------------------------------

    def _claim(self, summary: FireSummary) -> FireSummary | None:
        """Claim the fire; None when it is ours now, else what the other claim says."""
        now = _db(self.now())
        values = {
            "schedule": summary.schedule,
            "fire_time": _db(summary.fire_time),
            "kind": summary.kind,
            "status": "running",
            "owner": self.owner,
            "started_at": now,
            "heartbeat_at": now,
            "total": 0,
            "created": 0,
            "existed": 0,
            "rejected": 0,
            "rejections": "[]",
            "message": "",
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.insert(fires_table).values(**values))
            return None
        except IntegrityError:
            pass
        key = (fires_table.c.schedule == summary.schedule) & (
            fires_table.c.fire_time == _db(summary.fire_time)
        )
        with self.engine.begin() as connection:
            row = connection.execute(sa.select(fires_table).where(key)).one()
            stale = row.heartbeat_at < now - self.stale_after
            if row.status in _FINAL or (row.status == "running" and not stale):
                other = self._summary_of(row)
                other.kind = summary.kind
                other.status = "already_fired" if row.status in _FINAL else "running_elsewhere"
                other.message = (
                    f"{row.status} by {row.owner} (started {row.started_at:%Y-%m-%d %H:%M:%S} UTC)"
                    + (f": {row.message}" if row.message else "")
                )
                return other
            # A failed fire, or one whose owner stopped heart-beating: take it over, but only if
            # nobody else did in between (compare-and-set on the owner and heartbeat we saw).
            taken = connection.execute(
                sa.update(fires_table)
                .where(
                    key
                    & (fires_table.c.owner == row.owner)
                    & (fires_table.c.heartbeat_at == row.heartbeat_at)
                )
                .values(**{k: v for k, v in values.items() if k not in ("schedule", "fire_time")})
            ).rowcount
        if taken:
            logger.warning(
                "schedule {} fire {}: taking over from {} ({})",
                summary.schedule,
                summary.fire_time,
                row.owner,
                row.status,
            )
            return None
        return self._claim(summary)

    def _heartbeat(self, summary: FireSummary) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(fires_table)
                .where(self._mine(summary))
                .values(
                    heartbeat_at=_db(self.now()),
                    total=summary.total,
                    created=summary.created,
                    existed=summary.existed,
                    rejected=summary.rejected,
                )
            )

    def _mine(self, summary: FireSummary) -> Any:
        return (
            (fires_table.c.schedule == summary.schedule)
            & (fires_table.c.fire_time == _db(summary.fire_time))
            & (fires_table.c.owner == self.owner)
        )

    def _finish(self, summary: FireSummary) -> None:
        rejections = [
            {"where": r.where, "key": r.key, "reasons": list(r.reasons)}
            for r in summary.rejections[:_MAX_STORED_REJECTIONS]
        ]
        now = _db(self.now())
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(fires_table)
                .where(self._mine(summary))
                .values(
                    status=summary.status,
                    heartbeat_at=now,
                    finished_at=now,
                    total=summary.total,
                    created=summary.created,
                    existed=summary.existed,
                    rejected=summary.rejected,
                    rejections=json.dumps(rejections),
                    message=summary.message,
                )
            )

    def _record_missed(self, schedule: Schedule, moment: datetime, fired: list[datetime]) -> FireSummary:
        coalesced = fired and schedule.misfire.policy == "run_once" and moment < fired[-1]
        why = (
            f"coalesced into the fire of {fired[-1]:%Y-%m-%d %H:%M:%S} UTC (misfire policy run_once)"
            if coalesced
            else f"missed: more than {schedule.misfire.grace_time} late "
            f"(misfire policy {schedule.misfire.policy})"
        )
        summary = FireSummary(schedule.name, _utc(moment), "scheduled", "missed", message=why)
        if self._claim(summary) is None:
            self._finish(summary)
        logger.warning("schedule {} fire {}: {}", schedule.name, moment, why)
        return summary

    def _summary_of(self, row: Any) -> FireSummary:
        rejections = [
            RejectedRow(item["where"], item.get("key"), tuple(item["reasons"]))
            for item in json.loads(row.rejections)
        ]
        summary = FireSummary(
            schedule=row.schedule,
            fire_time=_from_db(row.fire_time) or datetime.min.replace(tzinfo=UTC),
            kind=row.kind,
            status=row.status,
            total=row.total,
            created=row.created,
            existed=row.existed,
            rejections=rejections,
            message=row.message,
            recorded_rejected=row.rejected,
        )
        return summary

    # -- the background scheduler -----------------------------------------------------------------

    def start(self) -> None:
        """Start the APScheduler background scheduler (jobs stored in ``schedule_jobs``).

        Jobs whose timing is unchanged keep their stored next run time, so fires missed while
        no scheduler ran are handed to the misfire policy; changed schedules are replaced and
        schedules whose file is gone are removed.
        """
        if self._scheduler is not None:
            return
        scheduler = _BackgroundScheduler(
            jobstores={
                "default": _SharedEngineJobStore(engine=self.engine, tablename=JOBS_TABLE),
                "housekeeping": MemoryJobStore(),
            },
            executors={"default": _FireExecutor(self), "housekeeping": ThreadPoolExecutor(max_workers=1)},
            # We apply the misfire policy ourselves, so APScheduler must hand over every due
            # run time (no coalescing, no grace of its own).
            job_defaults={"coalesce": False, "misfire_grace_time": None, "max_instances": 4},
            timezone=UTC,
        )
        scheduler.start(paused=True)
        self._scheduler = scheduler
        self._sync_jobs()
        # Fires whose scheduler died mid-batch are finished by whoever notices first.
        scheduler.add_job(
            self.recover,
            "interval",
            seconds=max(self.stale_after.total_seconds() / 2, 1),
            id="recover_abandoned_fires",
            jobstore="housekeeping",
            executor="housekeeping",
            next_run_time=datetime.now(UTC),
            coalesce=True,
            max_instances=1,
        )
        scheduler.resume()
        logger.info("scheduler {} started with {} schedules", self.owner, len(self.schedules))

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the background scheduler (a running fire finishes when ``wait``)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=wait)
            self._scheduler = None

    def _sync_jobs(self) -> None:
        scheduler = self._scheduler
        assert scheduler is not None
        stored = {job.id: job for job in scheduler.get_jobs(jobstore="default")}
        for name, schedule in self.schedules.items():
            fingerprint = schedule.fingerprint()
            job = stored.get(name)
            if job is not None and job.kwargs.get("fingerprint") == fingerprint:
                continue
            scheduler.add_job(
                scheduled_fire,
                trigger=schedule.trigger(),
                args=[name],
                kwargs={"fingerprint": fingerprint},
                id=name,
                name=name,
                replace_existing=True,
            )
        for name in set(stored) - set(self.schedules):
            scheduler.remove_job(name)

    def recover(self) -> list[FireSummary]:
        """Finish the fires whose owner stopped heart-beating mid-batch (a crashed scheduler).

        Runs in every scheduler from time to time; the fire claim lets one of them take each
        abandoned fire over, and the references make the rerun create only what is missing.
        Failed fires are left to ops (``fire(name, fire_time)`` runs one again).
        """
        limit = _db(self.now() - self.stale_after)
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(fires_table.c.schedule, fires_table.c.fire_time, fires_table.c.kind).where(
                    (fires_table.c.status == "running") & (fires_table.c.heartbeat_at < limit)
                )
            ).all()
        summaries = []
        for row in rows:
            if row.schedule not in self.schedules:
                continue
            logger.warning(
                "schedule {} fire {} was abandoned mid-batch: running it again", row.schedule, row.fire_time
            )
            summaries.append(self.fire(row.schedule, row.fire_time.replace(tzinfo=UTC), kind=row.kind))
        return summaries

    def next_job_time(self, name: str) -> datetime | None:
        """The running scheduler's stored next run time of ``name`` (None if not started)."""
        if self._scheduler is None:
            return None
        job = self._scheduler.get_job(name)
        return job.next_run_time if job is not None else None


def scheduled_fire(name: str, *, fingerprint: str = "") -> None:
    """The job function APScheduler stores. ``_FireExecutor`` runs the fire instead of it.

    It exists so the job store holds an importable reference; calling it outside the
    service's executor is a configuration error.
    """
    raise ScheduleError(
        f"schedule {name!r} was run by an executor that is not ScheduleService's; "
        "start the scheduler with ScheduleService.start()"
    )


class _SharedEngineJobStore(SQLAlchemyJobStore):
    """APScheduler's SQLAlchemy job store on an engine it shares (so it must not dispose it).

    Its ``start()`` still creates ``schedule_jobs`` if missing; the migrations made it
    already, so that is a no-op (and schedulers starting at once never race to create it).
    """

    def shutdown(self) -> None:
        """Leave the shared engine open: the case store and the fire records still use it."""


class _BackgroundScheduler(BackgroundScheduler):
    """APScheduler's background scheduler without its last round after ``shutdown()``.

    APScheduler 3's loop wakes up on shutdown and processes due jobs once more before it
    looks at the state; a job due then is handed to the already stopped executor, fails, and
    its run time is advanced in the job store - a fire lost. We skip that round, so the fire
    stays due and the next scheduler's misfire policy handles it.
    """

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        result: float | None = super()._process_jobs()
        return result


class _FireExecutor(ThreadPoolExecutor):
    """Hands APScheduler's due run times to ``ScheduleService.fire_due`` (which knows the policy)."""

    def __init__(self, service: ScheduleService) -> None:
        super().__init__(max_workers=2)
        self._service = service

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        def run() -> list[JobExecutionEvent]:
            summaries = self._service.fire_due(job.id, run_times)
            events = []
            for summary in summaries:
                code = EVENT_JOB_MISSED if summary.status == "missed" else EVENT_JOB_EXECUTED
                events.append(
                    JobExecutionEvent(code, job.id, job._jobstore_alias, summary.fire_time, retval=summary)
                )
            return events

        def done(future: Any) -> None:
            error = future.exception()
            if error is not None:
                self._run_job_error(job.id, error, error.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        self._pool.submit(run).add_done_callback(done)
