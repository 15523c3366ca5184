"""``run.py worker``: robot processes that claim cases, run them and report the outcome.

A supervisor process starts N robots (``multiprocessing``, spawn: a clean interpreter
each, so a crash in one cannot touch the others). Each robot is long-lived, like a clerk at
a desk: one browser (``robots.engine.robot.make_sessions``), its own virtual display for desktop
programs, a registration row with a heartbeat (what it is doing now), and a loop:

    claim the next case (lease) → heartbeat thread extends the lease → run it with the
    engine (checkpoints, steps, human tasks in the database) → store the outcome, and with
    it claim the next case (one transaction on SQLite) → ...

Stopping: SIGTERM or Ctrl-C lets each robot finish its current case, close its browser
and display, and exit; a robot still busy after the grace period is killed and its case is
claimed again when its lease expires. A robot that dies (crash, SIGKILL) is restarted; the
supervisor is a Linux *child subreaper*, so the browser, driver, Xvfb and programs a dead
robot leaves behind are re-parented to it and ended: no orphaned Chromium. The supervisor
also runs the housekeeping: the SLA rule for overdue human tasks (every minute) and the
retention purge (hourly, ``TANDEM_RETENTION_DAYS``).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from loguru import logger

from orchestrator.errors import LeaseLost
from orchestrator.humans.customer_links import CustomerLinks
from orchestrator.storage.db import database_url
from robots.language.project_paths import artifacts_dir, logs_dir

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker runs: the number of robots, the database, the lease, when to stop."""

    robots: int = 1
    """Robot processes to run on this machine."""
    url: str | None = None
    """Database URL (default: ``TANDEM_DATABASE_URL``, else ``tandem.db`` in the data folder)."""
    project_root: Path = field(default_factory=Path.cwd)
    """The project (``workflows/``, ``business_rules/``)."""
    lease_seconds: float = 60.0
    """How long a claim lasts without a heartbeat; a dead robot's case is reclaimed after it."""
    once: bool = False
    """Stop each robot when no case is claimable now, instead of waiting for more; what is
    left (cases due for a retry, held by a dead robot's lease) is reported at the end."""
    drain: bool = False
    """A batch run that finishes: robots wait for cases due for a retry and for expired
    leases to be reclaimed, and stop only when no case is queued or running any more."""
    poll_seconds: float = 1.0
    """Wait between claims when the queue is empty."""
    grace_seconds: float = 60.0
    """On SIGTERM: how long robots may take to finish their current case before being killed."""
    headed: bool = False
    """Show the browsers (needs a display)."""
    workflows: tuple[str, ...] = ()
    """Only claim cases of these workflows (empty: all)."""
    log_dir: Path | None = None
    """Where the JSON log goes (default: ``logs/`` in the project's data folder)."""
    retention_days: float = field(
        default_factory=lambda: float(os.environ.get("TANDEM_RETENTION_DAYS", "90"))
    )
    """Personal data of cases finished longer ago is purged (hourly); 0 keeps it for ever."""
    housekeeping_seconds: float = 60.0
    """How often the supervisor escalates overdue human tasks (and, hourly, purges)."""
    name: str = field(default_factory=socket.gethostname)
    """The robots' ids are ``<name>#1`` ... (default: the host name). Two workers on one
    machine need names of their own."""
    customer_links: CustomerLinks | None = field(default_factory=CustomerLinks.from_environment)
    """How the customer's status link in a case's mails is made (``case.status_url``):
    ``TANDEM_PUBLIC_URL`` and ``TANDEM_SECRET_KEY``, the control room's; None: no link."""

    def __post_init__(self) -> None:
        if not self.name.strip() or "#" in self.name:
            raise ValueError(f"--name {self.name!r}: give a name without '#', e.g. the host's")
        if self.once and self.drain:
            raise ValueError("--once and --drain: give one (--drain also waits for retries and dead robots)")
        if self.robots < 1:
            raise ValueError(f"--robots {self.robots}: run at least one robot")
        if self.lease_seconds < 3:
            raise ValueError(
                f"--lease {self.lease_seconds}: a lease shorter than 3 seconds cannot be kept alive"
            )


def _robot_id(settings: WorkerSettings, index: int) -> str:
    return f"{settings.name}#{index}"


def _ids_in_use(store: Any, settings: WorkerSettings) -> list[str]:
    """Robots of this worker's ids that another live worker on this machine runs now."""
    import psutil  # type: ignore[import-untyped]

    ours = {_robot_id(settings, index) for index in range(1, settings.robots + 1)}
    host = socket.gethostname()
    return [
        f"{robot.id} (pid {robot.pid})"
        for robot in store.list_robots()
        if robot.id in ours
        and robot.status != "stopped"
        and robot.host == host
        and psutil.pid_exists(robot.pid)
    ]


# -- one robot --------------------------------------------------------------------------


class _Heartbeat(threading.Thread):
    """Extends the lease of the current case and says what the robot is doing."""

    def __init__(self, orchestrator: Any, claim: Any, lease_seconds: float) -> None:
        super().__init__(name="heartbeat", daemon=True)
        self.orchestrator = orchestrator
        self.claim = claim
        self.lease_seconds = lease_seconds
        self.step: str | None = None
        self.lost = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        interval = self.lease_seconds / 3
        while not self._stop_event.wait(interval):
            try:
                self.orchestrator.heartbeat(self.claim, self.lease_seconds)
                if self.step is not None:
                    self.orchestrator.robot_heartbeat(self.claim.robot_id, step=self.step)
            except LeaseLost as lost:
                logger.warning("{}", lost)
                self.lost = True
                return
            except Exception as error:  # the database is briefly away: try again next beat
                logger.warning("heartbeat failed (will retry): {}", error)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


def _detach_from_terminal() -> None:
    """Leave the terminal's process group, and follow the supervisor if it dies.

    Ctrl-C in a terminal signals the whole foreground group: the robot's Chromium and Xvfb
    would die mid-case. In a group of its own the robot hears only the supervisor, which
    forwards SIGTERM; should the supervisor itself be killed, the kernel sends SIGTERM.
    """
    with contextlib.suppress(OSError):
        os.setpgrp()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def robot_main(index: int, settings: WorkerSettings) -> None:
    """The life of one robot process (the target of the spawned process)."""
    from orchestrator.models import ClaimRequest
    from orchestrator.service import Orchestrator
    from orchestrator.worker.drain import backlog
    from orchestrator.worker.execution import run_claim_and_claim_next
    from robots.engine.robot import make_sessions
    from robots.engine.runner import Engine
    from robots.language.project import Project
    from robots.logs import configure_logging

    robot_id = _robot_id(settings, index)
    stopping = threading.Event()
    _detach_from_terminal()

    def on_term(signum: int, frame: FrameType | None) -> None:
        if not stopping.is_set():
            logger.info("robot {}: asked to stop; finishing the current case first", robot_id)
        stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    configure_logging(log_dir=settings.log_dir or logs_dir(settings.project_root))
    project = Project(settings.project_root)
    orchestrator = Orchestrator(
        settings.url, project=project, migrate=False, pool_size=2, customer_links=settings.customer_links
    )
    orchestrator.register_robot(robot_id, host=socket.gethostname(), pid=os.getpid())
    sessions = make_sessions(headed=settings.headed)
    engine = Engine(
        project,
        humans=orchestrator.humans(robot_id),
        systems=sessions,
        robot=robot_id,
        artifacts_dir=artifacts_dir(settings.project_root),
        escalate_system_failures=False,
    )
    workflows = list(settings.workflows) or None
    request = ClaimRequest(lease_seconds=settings.lease_seconds, workflows=workflows)
    done = 0
    claim = None  # the next case, when claimed together with the last one's outcome
    logger.info("robot {} ready (pid {})", robot_id, os.getpid())
    try:
        while not stopping.is_set():
            if claim is None:
                claim = orchestrator.claim_next_case(robot_id, settings.lease_seconds, workflows=workflows)
            if claim is None:
                if settings.once:
                    break
                if settings.drain and backlog(orchestrator, settings.workflows).robot_work == 0:
                    break
                orchestrator.robot_heartbeat(robot_id)
                stopping.wait(settings.poll_seconds)
                continue
            case = claim.case
            logger.info(
                "robot {}: case {} ({} {}), attempt {}{}",
                robot_id,
                case.id,
                case.workflow,
                case.reference,
                claim.attempt,
                " — taken over from a robot that died" if claim.reclaimed else "",
            )
            heartbeat = _Heartbeat(orchestrator, claim, settings.lease_seconds)

            def on_step(record: Any, beat: _Heartbeat = heartbeat) -> None:
                beat.step = record.path

            heartbeat.start()
            started = time.monotonic()
            try:
                result, claim = run_claim_and_claim_next(
                    orchestrator,
                    engine,
                    claim,
                    on_step=on_step,
                    next_claim=lambda: None if stopping.is_set() else request,
                )
            finally:
                heartbeat.stop()
            done += 1
            seconds = time.monotonic() - started
            if result is None:
                logger.warning("robot {}: case {} lost its lease after {:.1f}s", robot_id, case.id, seconds)
            else:
                logger.info("robot {}: case {} → {} in {:.1f}s", robot_id, case.id, result.status, seconds)
        if claim is not None:  # claimed with the last outcome, then told to stop: give it back
            orchestrator.release_case(claim, reason=f"robot {robot_id} stopped before starting it")
    except Exception:
        # Through the log's sinks (masked, no local variables), not multiprocessing's own
        # traceback on stderr, which would print the error's text as it is.
        logger.exception("robot {} crashed; the worker starts it again", robot_id)
        raise SystemExit(1) from None
    finally:
        logger.info("robot {} stopping after {} cases: closing its browser and display", robot_id, done)
        with contextlib.suppress(Exception):
            sessions.close()
        with contextlib.suppress(Exception):
            orchestrator.robot_stopped(robot_id)
        orchestrator.close()


# -- the supervisor ---------------------------------------------------------------------


def _become_subreaper() -> bool:
    """Make orphans of our descendants our children (Linux), so we can end them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _end_orphans(robot_pids: set[int]) -> int:
    """End every child of ours that is not a live robot (left behind by a dead one)."""
    import psutil

    ended = 0
    me = psutil.Process()
    for child in me.children(recursive=False):
        if child.pid in robot_pids:
            continue
        with contextlib.suppress(psutil.Error):
            if any("resource_tracker" in part for part in child.cmdline()):
                continue  # multiprocessing's own helper, started by us: not an orphan
            if child.status() == psutil.STATUS_ZOMBIE:
                child.wait(timeout=0)
                continue
            family = [*child.children(recursive=True), child]
            for process in family:
                with contextlib.suppress(psutil.Error):
                    process.terminate()
            _, alive = psutil.wait_procs(family, timeout=3)
            for process in alive:
                with contextlib.suppress(psutil.Error):
                    process.kill()
            ended += 1
    return ended


def _stop_resource_tracker() -> None:
    """Wait for multiprocessing's resource tracker (started with the first robot) to exit.

    It exits by itself once we do, but a moment later: stopping it here means that when the
    worker process has ended, every process it started has ended too.
    """
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)  # private; absent in some Pythons
    if stop is not None:
        with contextlib.suppress(OSError, ChildProcessError):
            stop()


class _Housekeeping:
    """The SLA rule (overdue tasks move up a level) and retention, run by every supervisor.

    Several supervisors on several machines may run it: moving a task resets its due time
    and purging marks the case, so running it twice does nothing twice.
    """

    def __init__(self, store: Any, settings: WorkerSettings) -> None:
        self.store = store
        self.settings = settings
        self.next_escalation = time.monotonic()
        self.next_purge = time.monotonic()

    def maybe_run(self) -> None:
        now = time.monotonic()
        try:
            if now >= self.next_escalation:
                self.next_escalation = now + self.settings.housekeeping_seconds
                for task in self.store.escalate_overdue_tasks():
                    logger.info("worker: task {} overdue, escalated to {}", task.id, task.queue)
                for task in self.store.announce_postponed_tasks():
                    logger.info("worker: postponed task {} is due again in {}", task.id, task.queue)
            if self.settings.retention_days > 0 and now >= self.next_purge:
                self.next_purge = now + 3600
                purged = self.store.purge_personal_data(timedelta(days=self.settings.retention_days))
                if purged:
                    logger.info("worker: personal data of {} finished case(s) purged", purged)
        except Exception as error:  # the database is briefly away: the next round tries again
            logger.warning("worker: housekeeping failed: {}", error)


class _DrainReport:
    """While a drain waits, says what for (every few seconds, when it changes)."""

    def __init__(self, store: Any, settings: WorkerSettings, every: float = 5.0) -> None:
        self.store = store
        self.settings = settings
        self.every = every
        self.next_look = time.monotonic() + every
        self.last = ""

    def maybe_log(self) -> None:
        from orchestrator.worker.drain import backlog

        if time.monotonic() < self.next_look:
            return
        self.next_look = time.monotonic() + self.every
        try:
            left = backlog(self.store, self.settings.workflows)
        except Exception:  # the database is briefly away: look again next time
            return
        if left.queued_now or not left.robot_work:
            return  # robots are busy with claimable cases, or about to stop
        what = left.describe_robot_work()
        if what != self.last:
            logger.info("worker: draining: waiting for {}", what)
            self.last = what


def _report_left_behind(store: Any, settings: WorkerSettings) -> None:
    """At the end of a batch run: what robots left to do (``--once``) and what waits for a person."""
    from orchestrator.worker.drain import backlog

    left = backlog(store, settings.workflows)
    if left.robot_work:
        logger.warning(
            "worker: stopped with cases left: {} (run.py worker --drain waits for them)",
            left.describe_robot_work(),
        )
    else:
        logger.info("worker: {}: no case is queued or running", "drained" if settings.drain else "done")
    if left.waiting_human:
        logger.info("worker: {}", left.describe_waiting())


def run_worker(settings: WorkerSettings) -> int:
    """Run the robots until SIGTERM / Ctrl-C (or, with ``once``, until the queue is empty)."""
    from orchestrator.service import Orchestrator
    from robots.logs import configure_logging

    configure_logging(log_dir=settings.log_dir or logs_dir(settings.project_root))
    # Migrate once here, so N robots do not all wait for the migration lock.
    store = Orchestrator(settings.url, migrate=True, pool_size=1)
    in_use = _ids_in_use(store, settings)
    if in_use:
        store.close()
        logger.error(
            "worker: another worker on this machine runs robot(s) {}: give this one a name of its "
            "own (run.py worker --name {}-2) so the robots can be told apart",
            ", ".join(in_use),
            settings.name,
        )
        return 2
    housekeeping = _Housekeeping(store, settings)
    drain_report = _DrainReport(store, settings)
    reaper = _become_subreaper()
    context = multiprocessing.get_context("spawn")
    robots: dict[int, Any] = {}
    stopping = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_term) for sig in (signal.SIGTERM, signal.SIGINT)}

    def start(index: int) -> None:
        process = context.Process(target=robot_main, args=(index, settings), name=f"robot-{index}")
        process.start()
        robots[index] = process
        logger.info("worker: robot {} started (pid {})", _robot_id(settings, index), process.pid)

    logger.info(
        "worker: {} robot(s), lease {:g}s, database {}",
        settings.robots,
        settings.lease_seconds,
        database_url(settings.url),
    )
    for index in range(1, settings.robots + 1):
        start(index)
    try:
        while not stopping.is_set():
            for index, process in list(robots.items()):
                if process.is_alive():
                    continue
                process.join()
                code = process.exitcode
                if (settings.once or settings.drain) and code == 0:
                    del robots[index]
                    continue
                how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                logger.warning(
                    "worker: robot {} died ({}); starting it again", _robot_id(settings, index), how
                )
                ended = _end_orphans({p.pid for p in robots.values() if p.is_alive() and p.pid})
                if ended:
                    logger.info("worker: ended {} process(es) the dead robot left behind", ended)
                start(index)
            if not robots:
                break
            if settings.drain:
                drain_report.maybe_log()
            housekeeping.maybe_run()
            stopping.wait(0.5)
    finally:
        for process in robots.values():
            if process.is_alive() and process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + settings.grace_seconds
        for index, process in robots.items():
            process.join(timeout=max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                logger.warning(
                    "worker: robot {} did not stop in time: killing it", _robot_id(settings, index)
                )
                process.kill()
                process.join()
                # A killed robot cannot record that it stopped: record it for it, or its row
                # stays 'busy' with a case it no longer works on (the case's lease expires
                # and another robot takes it over).
                try:
                    store.robot_stopped(_robot_id(settings, index))
                except Exception as error:  # the database may be what made the robot hang
                    logger.warning(
                        "worker: could not record robot {} as stopped: {}", index, type(error).__name__
                    )
        if reaper:
            _end_orphans(set())
        _stop_resource_tracker()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if settings.once or settings.drain:
            with contextlib.suppress(Exception):  # the report must not hide how the run ended
                _report_left_behind(store, settings)
        store.close()
        logger.info("worker stopped")
    return 0
