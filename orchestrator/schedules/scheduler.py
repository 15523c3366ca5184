"""The APScheduler 3 background scheduler a ``ScheduleService`` runs, and its parts.

Owns ``new_scheduler``: a background scheduler whose jobs live in ``schedule_jobs`` on the
service's own engine (so a scheduler that was down knows which fires it missed), whose
executor hands each job's due run times to the service's ``fire_due`` (which applies the
misfire policy and fires), and which never runs a last round after ``shutdown()``. Which
jobs it holds, and the job function they name (``service.scheduled_fire``), are the
service's (``orchestrator.schedules.service``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED

from orchestrator.schedules.fires import FireSummary

JOBS_TABLE = "schedule_jobs"

FireDue = Callable[[str, list[datetime]], Sequence[FireSummary]]
"""``ScheduleService.fire_due``: a job's id (the schedule's name) and its due run times."""


def new_scheduler(engine: sa.Engine, fire_due: FireDue) -> BackgroundScheduler:
    """A background scheduler, not started, with two job stores and executors.

    ``default``: the schedules' jobs in ``schedule_jobs``, run by ``fire_due``;
    ``housekeeping``: in memory, on a thread pool of one (the service's recovery job).
    """
    return _BackgroundScheduler(
        jobstores={
            "default": _SharedEngineJobStore(engine=engine, tablename=JOBS_TABLE),
            "housekeeping": MemoryJobStore(),
        },
        executors={"default": _FireExecutor(fire_due), "housekeeping": ThreadPoolExecutor(max_workers=1)},
        # The service applies the misfire policy itself, so APScheduler must hand over every
        # due run time (no coalescing, no grace of its own).
        job_defaults={"coalesce": False, "misfire_grace_time": None, "max_instances": 4},
        timezone=UTC,
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
    """Hands APScheduler's due run times to ``fire_due`` (the service's: it knows the policy)."""

    def __init__(self, fire_due: FireDue) -> None:
        super().__init__(max_workers=2)
        self._fire_due = fire_due

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        def run() -> list[JobExecutionEvent]:
            summaries = self._fire_due(job.id, run_times)
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
