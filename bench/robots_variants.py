"""The robot benchmark's variants, each in a worker process of its own.

A worker is one robot: it runs the cases the benchmark sends it, one batch at a time,
times each case, and measures its memory (its own process plus every child: the
Playwright driver, Chromium and its helpers, chromedriver) after each case. The worker
makes itself a child subreaper, so a browser process that loses its parent stays visible
as the worker's descendant instead of disappearing under init: what is still alive after
the worker closed its variant is an orphan.

Variants: ``tandem`` (the engine with a long-lived robot, ``robots.engine.robot.make_sessions``),
``naive`` and ``tuned`` (``bench.robots_scripts``), ``robotframework``
(``bench.robots_rf``), ``tandem-browser-per-case`` (the engine with fresh sessions,
browser included, for every case) and ``tandem-untraced`` (``tandem`` without the per-case
Playwright trace, ``TANDEM_TRACE=off``: what the trace costs).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

import psutil  # type: ignore[import-untyped]
import yaml

ROOT = Path(__file__).resolve().parent.parent
Case = dict[str, Any]
VARIANTS = ("tandem", "tuned", "naive", "robotframework", "tandem-browser-per-case", "tandem-untraced")

# Process names that belong to a browser stack (Chromium and its helpers, the drivers).
BROWSER_NAMES = ("chrom", "headless_shell", "node", "playwright")


def become_subreaper() -> None:
    """Adopt orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``), so none can hide."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)


def living_descendants(process: psutil.Process) -> list[psutil.Process]:
    """Descendants that still run (zombies are dead, only not yet reaped)."""
    alive = []
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
    return alive


def memory(process: psutil.Process) -> int:
    """A process's proportional set size (PSS: shared pages divided among their sharers), in bytes.

    Plain RSS would count the libraries Chromium's processes share once per process and
    make a browser look several times its size; PSS adds up to what the tree really uses.
    """
    try:
        return int(process.memory_full_info().pss)
    except (psutil.AccessDenied, AttributeError):
        return int(process.memory_info().rss)


def tree_memory(process: psutil.Process) -> int:
    """Memory (PSS) of a process and all its living descendants, in bytes."""
    total = memory(process)
    for child in living_descendants(process):
        with contextlib.suppress(psutil.Error):
            total += memory(child)
    return total


def renderers(process: psutil.Process) -> int:
    """How many Chromium renderer processes run below ``process``."""
    count = 0
    for child in living_descendants(process):
        with contextlib.suppress(psutil.Error):
            count += any(arg.startswith("--type=renderer") for arg in child.cmdline())
    return count


def describe(processes: list[psutil.Process]) -> list[str]:
    """``name (pid)`` of each process, for reports."""
    names = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            names.append(f"{process.name()} ({process.pid})")
    return names


class Variant(Protocol):
    """What a worker needs from a variant."""

    def run_case(self, case: Case) -> None:
        """Run one case; raise when it did not end as the workflow demands."""

    def close(self) -> None:
        """Close everything the variant opened (browser, sessions, drivers)."""

    def extras(self) -> dict[str, Any]:
        """Measurements besides the per-case times (e.g. new-context times)."""


def bench_workflows(target: Path) -> Path:
    """The project's workflows for the benchmark, written to ``target``.

    ``address_change`` loses its terminal part (the system and the step): the
    comparison covers the web systems only, because none of the other variants drives the
    terminal. Everything else — the delivery workflow and the appointment sub-workflows it
    calls when it finds no free slot, the logins — is copied unchanged.
    """
    source = ROOT / "workflows"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source / "logins", target / "logins")
    called = ("read_booking", *(p.stem for p in source.glob("appointment_*.yaml")))
    for name in ("delivery_appointment", *called):
        shutil.copy(source / f"{name}.yaml", target / f"{name}.yaml")
    flow = yaml.safe_load((source / "address_change.yaml").read_text(encoding="utf-8"))
    del flow["systems"]["terminal"]
    flow["steps"] = [step for step in flow["steps"] if step.get("id") != "terminal"]
    flow["outputs"]["systems_updated"] = ["crm", "billing"]
    for step in flow["steps"]:
        if step.get("id") == "confirmation":
            step["mail.send"]["data"]["systems"] = ["CRM", "billing"]
    (target / "address_change.yaml").write_text(
        yaml.safe_dump(flow, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return target


def inputs_of(case: Case) -> tuple[str, dict[str, str]]:
    """The workflow and its input for a case (no e-mail: no variant sends mail)."""
    if case["kind"] == "address":
        keys = ("customer_id", "street", "postal_code", "city")
        return "address_change", {key: case[key] for key in keys}
    return "delivery_appointment", {"order_number": case["order_number"], "postal_code": case["postal_code"]}


class TandemRobot:
    """Tandem's engine with one long-lived robot (or, per case, a new one with its own browser)."""

    def __init__(self, workdir: Path, *, browser_per_case: bool = False) -> None:
        from robots.engine.human_gateway import InMemoryHumans
        from robots.engine.robot import make_sessions
        from robots.engine.runner import Engine
        from robots.language.project import Project
        from robots.logs import configure_logging

        # As 'run.py run' does: the JSON log file at INFO, only warnings on the console.
        configure_logging(log_dir=workdir / "logs", console_level="WARNING")
        self.workdir = workdir
        self.browser_per_case = browser_per_case
        self.project = Project(ROOT, workflows_dir=bench_workflows(workdir / "workflows"))
        self._make_sessions = make_sessions
        self._engine_class = Engine
        self.humans = InMemoryHumans()
        self.sessions = None if browser_per_case else make_sessions()
        self.engine = self._engine(self.sessions) if self.sessions is not None else None
        self.context_ms: list[float] = []
        self.page_ms: list[float] = []

    def _engine(self, sessions: Any) -> Any:
        return self._engine_class(
            self.project,
            humans=self.humans,
            systems=sessions,
            artifacts_dir=self.workdir / "artifacts",
            robot="bench-robot",
        )

    def run_case(self, case: Case) -> None:
        workflow, inputs = inputs_of(case)
        if self.browser_per_case:
            sessions = self._make_sessions()
            try:
                record = self._engine(sessions).run(workflow, inputs, case_id=f"bench-{case['seq']}")
            finally:
                sessions.close()
        else:
            assert self.engine is not None
            record = self.engine.run(workflow, inputs, case_id=f"bench-{case['seq']}")
        if record.status != "done":
            raise RuntimeError(
                f"{workflow} ended {record.status} at step {record.error_step}: {record.error}"
            )
        if case["kind"] == "delivery" and not record.outputs.get("booking_number"):
            raise RuntimeError(f"{workflow} ended without a booking number: {record.outputs}")

    def _measure_contexts(self, count: int = 20) -> None:
        """Time what Tandem does to open a system's session and to clean a page for a case.

        Uses the robot's own browser, after its cases, and Tandem's own calls
        (``new_context`` with the session's options, ``WebSession.fresh_case``), without
        logging in; ``fresh_case`` on a page that shows a document already queried, as a
        case leaves it (on a brand-new page it would also pay for setting up Playwright's
        helpers in it, which a kept page has done long before). Each measurement starts
        once the browser has finished tearing down the previous one's page (its renderer
        process is gone), as between a robot's cases: otherwise every new context after the
        first would be timed against the last one's teardown, which a robot never does back
        to back.
        """
        from robots.drivers.web_session import WebSession, WebSessions
        from robots.language.model import SystemSpec

        assert self.sessions is not None
        web = self.sessions.providers["web"]
        assert isinstance(web, WebSessions)
        browser = web._ensure_browser()
        steady = renderers(psutil.Process())
        for _ in range(count):
            started = time.perf_counter()
            context = browser.new_context(base_url=os.environ["CRM_URL"], ignore_https_errors=True)
            self.context_ms.append((time.perf_counter() - started) * 1000)
            session = WebSession("crm", SystemSpec(kind="web"), os.environ["CRM_URL"], context)
            session.new_page()
            # As a case leaves the kept page: on a document its steps have queried.
            session.page.goto(os.environ["CRM_URL"])
            session.page.locator("body").count()
            started = time.perf_counter()
            session.fresh_case()
            self.page_ms.append((time.perf_counter() - started) * 1000)
            context.close()
            deadline = time.monotonic() + 3
            while renderers(psutil.Process()) > steady and time.monotonic() < deadline:
                time.sleep(0.02)

    def close(self) -> None:
        if self.sessions is not None:
            try:
                self._measure_contexts()
            finally:
                self.sessions.close()

    def extras(self) -> dict[str, Any]:
        from robots.drivers.web_session import trace_mode

        return {"new_context_ms": self.context_ms, "clean_page_ms": self.page_ms, "trace": trace_mode()}


def make_variant(name: str, workdir: Path) -> Variant:
    """The variant called ``name`` (Robot Framework is not one: it runs its own loop)."""
    if name == "tandem":
        return TandemRobot(workdir)
    if name == "tandem-browser-per-case":
        return TandemRobot(workdir, browser_per_case=True)
    if name == "tandem-untraced":  # what the per-case trace costs (this worker's process only)
        os.environ["TANDEM_TRACE"] = "off"
        return TandemRobot(workdir)
    from bench import robots_scripts

    if name == "naive":
        return robots_scripts.NaiveScript()
    if name == "tuned":
        return robots_scripts.TunedScript()
    raise ValueError(f"unknown variant {name!r}; the variants are {', '.join(VARIANTS)}")


class Worker:
    """The worker side of the pipe: receives batches, answers with measured results."""

    def __init__(self, name: str, conn: Connection) -> None:
        self.name = name
        self.conn = conn
        self.me = psutil.Process()
        self.seen: dict[int, float] = {}  # pid -> create time of every browser-stack process seen

    def _observe(self) -> None:
        for child in living_descendants(self.me):
            with contextlib.suppress(psutil.Error):
                self.seen.setdefault(child.pid, child.create_time())

    def leftovers(self) -> list[str]:
        """Browser-stack descendants still alive: after the variant's ``close`` they are orphans."""
        return describe(
            [
                p
                for p in living_descendants(self.me)
                if any(part in p.name().lower() for part in BROWSER_NAMES)
            ]
        )

    def measured(self, case: Case, started: float, error: str | None) -> dict[str, Any]:
        """One case's result: wall time, error, the robot's memory right after it."""
        elapsed = (time.perf_counter() - started) * 1000
        self._observe()
        return {
            "seq": case["seq"],
            "kind": case["kind"],
            "ms": elapsed,
            "error": error,
            "mem": tree_memory(self.me),
        }

    def next_batch(self) -> list[Case] | None:
        """The parent's next batch, or None when it says close."""
        command = self.conn.recv()
        return list(command[1]) if command[0] == "cases" else None

    def finish(self, extras: dict[str, Any], left: list[str]) -> None:
        """Tell the parent what is left and which processes to check after the worker exits."""
        self.conn.send(("closed", {"extras": extras, "leftovers": left, "seen": self.seen}))


def _error(error: BaseException) -> str:
    return f"{type(error).__name__}: {' '.join(str(error).split())}"[:500]


def serve_variant(name: str, conn: Connection, env: dict[str, str], workdir: str) -> None:
    """Worker process entry: run variant ``name``'s cases as the parent sends them."""
    become_subreaper()
    os.environ.update(env)
    directory = Path(workdir) / name
    directory.mkdir(parents=True, exist_ok=True)
    worker = Worker(name, conn)
    if name == "robotframework":
        _serve_robot_framework(worker, directory)
        return
    variant = make_variant(name, directory)
    conn.send(("ready", None))
    try:
        while (batch := worker.next_batch()) is not None:
            results = []
            for case in batch:
                started, error = time.perf_counter(), None
                try:
                    variant.run_case(case)
                except Exception as failure:
                    error = _error(failure)
                result = worker.measured(case, started, error)
                if name == "tandem-browser-per-case":
                    result["leftovers"] = worker.leftovers()
                results.append(result)
            conn.send(("results", results))
    finally:
        variant.close()
        worker.finish(variant.extras(), worker.leftovers())


def _serve_robot_framework(worker: Worker, directory: Path) -> None:
    from bench import robots_rf

    batches: dict[int, Case] = {}

    def next_batch() -> list[Case] | None:
        batch = worker.next_batch()
        batches.clear()
        batches.update({case["seq"]: case for case in batch or []})
        return batch

    def report(results: list[dict[str, Any]]) -> None:
        worker._observe()
        mem = tree_memory(worker.me)
        for result in results:
            result.update(kind=batches[result["seq"]]["kind"], mem=mem)
        worker.conn.send(("results", results))

    worker.conn.send(("ready", None))
    try:
        robots_rf.run_suite(next_batch, report, directory)
    finally:
        worker.finish({}, worker.leftovers())
