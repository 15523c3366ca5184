"""``run.py demo``: the whole demo on one machine, on SQLite, until Ctrl-C.

What it starts, in order, and stops in reverse:

1. a scratch folder (a fresh SQLite database, the demo apps' audit logs, the mails, the
   terminal's data, the worker's log) — removed at the end unless ``--data-dir`` names one
   to keep (the robots' log and failure screenshots too: nothing is written into the
   project); while the demo runs, ``demo.json`` in the project's data folder names this
   database, so ``run.py cases`` or ``run.py schedules show`` in the project find it;
2. the demo back-office web apps (CRM, billing, two supplier portals) and a local SMTP sink
   for the robots' confirmation mails;
3. the demo organisation (``orchestrator/humans/org.yaml``: units, queues, agents) and two channel
   tokens (IVR, webform);
4. the robots: ``run.py worker --robots N`` as a child process in its own process group, so
   Ctrl-C reaches only this process and the robots get an orderly SIGTERM (and, if they do not
   stop in time, SIGKILL for the whole group and for anything carrying the demo's marker in
   its environment: no Chromium or Xvfb is left behind); they start first, as they take
   longest to come up;
5. the control room (``orchestrator.control_room.app.create_app``) with uvicorn, in a thread,
   and the scheduler (``orchestrator.schedules.service.ScheduleService``) for the project's
   ``schedules/``, sharing one service with the dashboard;
6. a realistic mix of cases through the real channel API: webform address changes (one of
   them implausible), IVR delivery appointments (the southern supplier is fully booked, so
   those reach the appointment team) and IVR "appointment failed" calls (robot -> agent ->
   robot, with a callout).

It never reads stdin, so it runs the same in a terminal, under CI and under a test; SIGINT
or SIGTERM stops it. The control room's thread and the robots' process group are
``demo.processes``; the mix of cases is ``demo.case_mix``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import httpx

from demo.case_mix import DemoCase, demo_cases
from demo.processes import ControlRoomServer, DemoError, RobotProcess, port_taken, start_robots

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8000


@dataclass
class DemoOptions:
    """How ``run.py demo`` runs."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    free_ports: bool = False
    robots: int = 2
    data_dir: Path | None = None
    project_root: Path = ROOT
    """The demo's workflows and business rules (Tandem's own demo project by default)."""
    worker_command: list[str] | None = None
    """The command that starts the robots; default ``TANDEM_DEMO_WORKER_COMMAND`` (split like a
    shell would), else ``run.py worker --robots N``."""
    progress_every: float = 5.0


class Demo:
    """The running demo; ``with Demo(options) as demo: demo.wait()``."""

    def __init__(self, options: DemoOptions, *, out: Callable[[str], None] = print) -> None:
        self.options = options
        self.out = out
        self._cleanup: list[Callable[[], None]] = []
        self.stop_event = threading.Event()
        self.urls: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.store: Any = None
        self.robots: RobotProcess | None = None
        self.workdir: Path | None = None
        self.schedules: Any = None

    # -- starting ----------------------------------------------------------------------------

    def _check_ports(self) -> None:
        from demo.server import DEFAULT_PORTS

        if self.options.free_ports:
            return
        wanted = {"control room": self.options.port, **DEFAULT_PORTS}
        for name, port in wanted.items():
            if port_taken(self.options.host, port):
                raise DemoError(
                    f"port {port} on {self.options.host} (for the {name}) is in use, maybe by a demo that is "
                    "still running: stop it, or start with any free ports: run.py demo --free-ports"
                )

    def start(self) -> Demo:
        """Start every part; on a failure, stop what was started and raise ``DemoError``."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from connectors.mail_sink import MailSink
        from demo.data import robot_secrets
        from demo.server import DEFAULT_PORTS, free_port, start_demo_apps
        from orchestrator.control_room.app import ServerSettings, create_app
        from orchestrator.schedules.service import ScheduleService
        from orchestrator.service import Orchestrator
        from robots.language.project import Project

        options = self.options
        self._check_ports()
        if options.data_dir is not None:
            self.workdir = options.data_dir.resolve()
            self.workdir.mkdir(parents=True, exist_ok=True)
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="tandem-demo-"))
            workdir = self.workdir
            self._cleanup.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
        database = self.workdir / "tandem-demo.db"
        for leftover in self.workdir.glob("tandem-demo.db*"):  # a fresh demo each time
            leftover.unlink()
        database_url = f"sqlite:///{database}"
        from robots.language.project_paths import forget_running_demo, record_running_demo

        pointer = record_running_demo(options.project_root, database_url, self.workdir)
        self._cleanup.append(lambda: forget_running_demo(pointer))

        apps = start_demo_apps(
            host=options.host,
            ports=None if options.free_ports else DEFAULT_PORTS,
            data_dir=self.workdir / "demo-apps",
        )
        self._cleanup.append(apps.stop)
        # The southern supplier is fully booked today: its appointments need a person.
        apps.control("suedexpress", no_slots=True)
        sink = MailSink(host=options.host, directory=self.workdir / "mail").start()
        self._cleanup.append(sink.stop)
        self.mail = sink

        store = Orchestrator(database_url, project=Project(options.project_root))
        self._cleanup.append(store.close)
        self.store = store
        store.load_organisation()
        _, self.tokens["ivr"] = store.create_token(
            "ivr", ["delivery_appointment", "appointment_failed"], description="demo IVR"
        )
        _, self.tokens["webform"] = store.create_token(
            "webform", ["address_change"], description="demo webform"
        )

        # The control room's address and key are fixed before the robots start: the status
        # links in the customers' mails the robots send are signed for it.
        port = free_port(options.host) if options.free_ports else options.port
        public_url = f"http://{options.host}:{port}"
        secret_key = os.environ.get("TANDEM_SECRET_KEY") or secrets.token_urlsafe(32)

        # The robots first: they take longest to come up (a browser each), and need only the
        # database and the apps; the control room starts while they do.
        env = {
            **os.environ,
            **apps.env(),
            **robot_secrets(),
            **sink.env(),
            "TANDEM_DATABASE_URL": database_url,
            "TANDEM_HOME": str(options.project_root),
            "TANDEM_DATA_DIR": str(self.workdir),
            "TANDEM_PYTHON": sys.executable,
            "TANDEM_DEMO_DATA": str(self.workdir / "terminal"),
            "PYTHONUNBUFFERED": "1",
            "TANDEM_PUBLIC_URL": public_url,
            "TANDEM_SECRET_KEY": secret_key,
        }
        configured = os.environ.get("TANDEM_DEMO_WORKER_COMMAND")
        command = (
            options.worker_command
            or (shlex.split(configured) if configured else None)
            or [
                sys.executable,
                str(ROOT / "run.py"),
                "worker",
                "--robots",
                str(options.robots),
            ]
        )
        self.robots = start_robots(command, env, self.workdir, self.workdir / "robots.log")
        robots = self.robots

        def stop_robots() -> None:
            code = robots.stop()
            if code not in (0, None, -signal.SIGTERM) and self.stop_event.is_set():
                self.out(f"the robots did not stop in time (exit code {code}): they were killed")

        self._cleanup.append(stop_robots)

        app = create_app(
            ServerSettings(
                database_url=database_url,
                project_root=options.project_root,
                secret_key=secret_key,
                public_url=public_url,
            ),
            store=store,
        )
        # The scheduler, so the next fire the dashboard shows does happen; the dashboard's
        # pause / resume / run now act on this same service.
        schedules = ScheduleService(store, engine=store.engine, root=options.project_root)
        schedules.start()
        self._cleanup.append(lambda: schedules.shutdown(wait=False))
        app.state.schedule_service = schedules
        self.schedules = schedules
        server = ControlRoomServer(app, options.host, port).start()
        self._cleanup.append(server.stop)
        base = server.url
        self.urls = {"control_room": base, **{name: url for name, url in apps.urls.items()}}

    # -- the cases ---------------------------------------------------------------------------

    def submit_cases(self) -> list[tuple[DemoCase, str]]:
        """Post the demo's cases through the channel API; (case, case id) for each accepted one."""
        base = self.urls["control_room"]
        accepted: list[tuple[DemoCase, str]] = []
        stamp = time.strftime("%Y%m%d%H%M%S")
        with httpx.Client(base_url=base, timeout=10) as client:
            for case in demo_cases(stamp):
                response = client.post(
                    f"/api/channels/{case.channel}",
                    json=case.body,
                    headers={"Authorization": f"Bearer {self.tokens[case.channel]}"},
                )
                if response.status_code in (200, 201):
                    accepted.append((case, str(response.json().get("id", "?"))))
                else:
                    self.out(f"  ! {case.note}: refused with {response.status_code}: {response.text[:300]}")
        return accepted

    # -- the banner ----------------------------------------------------------------------------

    def banner(self, accepted: list[tuple[DemoCase, str]]) -> str:
        """What a new user needs: where to click, how to log in, what is going on."""
        from demo.data import LOGINS

        base = self.urls["control_room"]
        lines = [
            "",
            "Tandem demo is running.",
            "",
            f"  Agent inbox        {base}/inbox",
            f"  Ops dashboard      {base}/ops",
            f"  Supervisor view    {base}/supervisor",
            f"  Customer webform   {base}/webform/address-change",
            f"  API docs           {base}/docs",
            "",
            "  Logins (user / password):",
            "    max.agent / agent-demo-2          Munich branch: appointments (callouts pop up here)",
            "    anna.agent / agent-demo-1         Berlin branch: address review",
            "    sven.supervisor / supervisor-demo-1   Germany: supervisor view",
            "    olaf.ops / ops-demo-1             ops dashboard, KPIs",
            "    admin / admin-demo-1              everything",
            "",
            "  Demo back-office apps the robots operate:",
        ]
        for name in ("crm", "billing", "nordlog", "suedexpress"):
            logins = ", ".join(f"{user} / {password}" for user, password in LOGINS[name].items())
            lines.append(f"    {name:12} {self.urls[name]:26} {logins}")
        if self.schedules is not None:
            lines += ["", "  Schedules (the scheduler runs; pause, resume or run now on the ops dashboard):"]
            for status in self.schedules.list_schedules():
                nxt = f"next fire {status.next_fire:%Y-%m-%d %H:%M %Z}" if status.next_fire else "paused"
                lines.append(f"    {status.name:28} {status.when} - {nxt}")
        lines += [
            "",
            f"  Robots: {self.options.robots} (log: {self.robots.log_path if self.robots else '-'})",
            f"  Channel tokens:  IVR {self.tokens['ivr']}",
            f"                   webform {self.tokens['webform']}",
            f"  Submitted {len(accepted)} cases:",
            *(f"    {case.channel:8} {case.note}" for case, _ in accepted),
            "",
            "Ctrl-C stops everything.",
        ]
        return "\n".join(lines)

    def progress(self) -> str:
        """One line: the cases by state."""
        counts = self.store.count_cases()
        order = [
            "queued",
            "running",
            "waiting_human",
            "done",
            "failed_business",
            "failed_system",
            "cancelled",
        ]
        parts = [f"{counts[state]} {state.replace('_', ' ')}" for state in order if counts.get(state)]
        return "cases: " + (", ".join(parts) or "none yet")

    # -- running and stopping ------------------------------------------------------------------

    def wait(self) -> bool:
        """Report progress until ``stop_event`` is set (by a signal): True; False when the robots'
        worker ended on its own (the demo cannot go on without robots)."""
        last = ""
        while not self.stop_event.wait(self.options.progress_every):
            with contextlib.suppress(Exception):  # a busy database only delays the next line
                line = self.progress()
                if line != last:
                    self.out(line)
                    last = line
            if self.robots is not None and self.robots.process.poll() is not None:
                # The scratch folder (and the log in it) goes away: show the end of the log here.
                with contextlib.suppress(OSError):
                    tail = self.robots.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[
                        -15:
                    ]
                    self.out("\n".join(["the robots' log ends with:", *(f"  {line}" for line in tail)]))
                self.out(
                    f"the robots' worker stopped on its own (exit code {self.robots.process.returncode}); "
                    "stopping the demo."
                )
                return False
        return True

    def stop(self) -> None:
        """Stop everything that was started, newest first (robots before the apps they use)."""
        while self._cleanup:
            step = self._cleanup.pop()
            try:
                step()
            except Exception as error:  # keep stopping the rest; say what could not be stopped
                self.out(f"while stopping: {error}")

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def _stop_on_signals(event: threading.Event) -> Iterator[None]:
    def handler(number: int, frame: FrameType | None) -> None:
        event.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_demo(options: DemoOptions, *, out: TextIO | None = None) -> int:
    """Run the demo until SIGINT/SIGTERM; 0 after an orderly stop, 1 when it could not start or
    its robots stopped on their own."""
    stream = out or sys.stdout

    def say(text: str) -> None:
        stream.write(text + "\n")
        stream.flush()

    demo = Demo(options, out=say)
    healthy = False
    with _stop_on_signals(demo.stop_event):
        try:
            say("starting the demo apps, the control room and the robots ...")
            demo.start()
            accepted = demo.submit_cases()
            say(demo.banner(accepted))
            healthy = demo.wait()
        except DemoError as error:
            say(f"cannot start the demo: {error}")
            demo.stop()
            return 1
        finally:
            if demo.stop_event.is_set():
                say("stopping the robots, the control room and the demo apps ...")
            demo.stop()
    say("stopped; nothing left running.")
    return 0 if healthy else 1
