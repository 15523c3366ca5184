"""The schedule service: turning files, queries and fixed payloads into cases on time.

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
runs again; the references make that safe. The fire records, the references and the misfire
policy's choice are ``orchestrator.schedules.fires``.

**APScheduler.** The jobs live in APScheduler's ``SQLAlchemyJobStore`` on the same
database (table ``schedule_jobs``, created with the others by the orchestrator's
migrations), so a scheduler that was down knows which fires it missed. Our own executor hands
APScheduler's due run times to ``fire_due``, which applies the schedule's misfire policy
(``MisfireSpec``) and fires (``orchestrator.schedules.scheduler`` builds that scheduler).
Calendars are applied by the trigger (``BusinessDayTrigger``) and again at fire time.

This module owns the service itself: which schedules are loaded, their pause state, firing
one (source rows -> cases), and the jobs the background scheduler holds.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from loguru import logger
from sqlalchemy.exc import SQLAlchemyError

from orchestrator.schedules.fires import (
    FireKind,
    FireProgress,
    FireRecords,
    FireSummary,
    RejectedRow,
    as_utc,
    db_time,
    fire_reference,
    select_fire_times,
    states_table,
)
from orchestrator.schedules.loading import WorkflowInputs, load_schedules, project_workflows, schedule_files
from orchestrator.schedules.model import Schedule
from orchestrator.schedules.scheduler import new_scheduler
from orchestrator.schedules.sources import SourceError, SourceRow, read_rows
from orchestrator.storage import db
from robots.errors import Problem, TandemError
from robots.language.registry import suggest

__all__ = ["CaseCreator", "ScheduleError", "ScheduleService", "ScheduleStatus", "scheduled_fire"]


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


# How often a running fire heart-beats at most (its record shows the dashboard its progress).
_PROGRESS_EVERY = timedelta(seconds=5)


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
        self._clock = clock or (lambda: datetime.now(UTC))
        self.records = FireRecords(
            engine, owner=owner or _default_owner(), stale_after=stale_after, now=self.now
        )
        self._workflows = workflows
        self._given = list(schedules) if schedules is not None else None
        self.problems: list[Problem] = []
        self.schedules: dict[str, Schedule] = {}
        self._scheduler: BackgroundScheduler | None = None
        self._signature: tuple[tuple[str, int], ...] = ()
        self._reload_lock = threading.Lock()
        self.reload()

    @property
    def owner(self) -> str:
        """Who this service claims fires as (default host:pid:random): the fire records' owner."""
        return self.records.owner

    @property
    def stale_after(self) -> timedelta:
        """How long a claimed fire may go without a heartbeat before another scheduler takes it over."""
        return self.records.stale_after

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
        return as_utc(self._clock())

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
            "changed_at": db_time(self.now()),
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
        return self.records.latest(name, limit=limit)

    def purge_rejections(self, older_than: timedelta, *, now: datetime | None = None) -> int:
        """Forget the rejected rows' details (keys, reasons with the values) of old fires; how many.

        The reasons quote the row's values, which may be personal data; the counts, the
        status and who fired when are kept. Meant for the same retention job that purges the
        cases' personal data.
        """
        purged = self.records.forget_rejections((now or self.now()) - older_than)
        if purged:
            logger.info("forgot the rejected rows of {} fires older than {}", purged, older_than)
        return purged

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
        summaries = [self.records.record_missed(schedule, moment, to_fire) for moment in missed]
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
        fire_time = as_utc(fire_time).replace(microsecond=0)
        summary = FireSummary(name, fire_time, kind, "done")
        if kind == "scheduled":
            reason = "paused" if self.is_paused(name) else schedule.closed_reason(fire_time)
            if reason is not None:
                summary.status, summary.message = "skipped", f"skipped: {reason}"
                if self.records.claim(summary) is None:
                    self.records.finish(summary)
                logger.info("schedule {} fire {} skipped: {}", name, fire_time, reason)
                return summary
        if self.cases is None:
            raise ScheduleError(
                f"schedule {name!r}: no case store was given to the schedule service; "
                "pass the orchestrator's store: ScheduleService(store, engine=store.engine)"
            )
        elsewhere = self.records.claim(summary)
        if elsewhere is not None:
            return elsewhere
        try:
            rows = read_rows(schedule, fire_time, root=self.root)
        except Exception as error:
            # SourceError explains itself; anything else (a corrupt workbook...) is named by type.
            text = str(error) if isinstance(error, SourceError) else f"{type(error).__name__}: {error}"
            summary.status, summary.message = "failed", f"cannot read the source: {text}"
            self.records.finish(summary)
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
            self.records.finish(summary)
            logger.error("schedule {} fire {} failed: {}", name, fire_time, summary.message)
            return summary
        self.records.finish(summary)
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
                self.records.heartbeat(summary)
                last_beat = self.now()

    # -- the background scheduler -----------------------------------------------------------------

    def start(self) -> None:
        """Start the APScheduler background scheduler (jobs stored in ``schedule_jobs``).

        Jobs whose timing is unchanged keep their stored next run time, so fires missed while
        no scheduler ran are handed to the misfire policy; changed schedules are replaced and
        schedules whose file is gone are removed.
        """
        if self._scheduler is not None:
            return
        scheduler = new_scheduler(self.engine, self.fire_due)
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
        summaries = []
        for schedule, fire_time, kind in self.records.abandoned():
            if schedule not in self.schedules:
                continue
            logger.warning(
                "schedule {} fire {} was abandoned mid-batch: running it again", schedule, fire_time
            )
            summaries.append(self.fire(schedule, fire_time, kind=kind))
        return summaries

    def next_job_time(self, name: str) -> datetime | None:
        """The running scheduler's stored next run time of ``name`` (None if not started)."""
        if self._scheduler is None:
            return None
        job = self._scheduler.get_job(name)
        return job.next_run_time if job is not None else None


def scheduled_fire(name: str, *, fingerprint: str = "") -> None:
    """The job function APScheduler stores. The scheduler's executor runs the fire instead of it.

    It exists so the job store holds an importable reference; calling it outside the
    service's executor is a configuration error. Stored jobs name it as
    ``orchestrator.schedules.service:scheduled_fire``, so it stays in this module.
    """
    raise ScheduleError(
        f"schedule {name!r} was run by an executor that is not ScheduleService's; "
        "start the scheduler with ScheduleService.start()"
    )
