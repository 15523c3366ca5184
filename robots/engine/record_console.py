"""``run.py record``: write workflow steps while a person works in a visible browser.

With ``--system NAME`` the recorder takes the system from a workflow of the project that
declares it, logs the robot in with the system's login workflow (in the recorder's
browser, before anything is recorded), and opens ``--start`` (default ``/``); with
``--url`` it opens that page in a system of its own. The browser shows on ``$DISPLAY``, or
on a private Xvfb when there is none (``--display`` to choose). The workflow file is
rewritten after every step, so what was recorded survives however the recording ends: by
closing the browser, Ctrl+C, or SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from robots.drivers.display import VirtualDisplay
from robots.drivers.recorder import Recorder, RecorderBrowser, RecorderSessions
from robots.engine.human_gateway import InMemoryHumans
from robots.engine.runner import Engine
from robots.errors import TandemError
from robots.language.model import SystemSpec, Workflow
from robots.language.project import Project
from robots.language.recording import Recording, step_text
from robots.language.steps import InStep


class RecordError(TandemError):
    """The recording cannot start (unknown system, a login that failed, no display)."""


@dataclass(frozen=True)
class Target:
    """What to record in: a system's name, its declaration and the page to start on."""

    system: str
    spec: SystemSpec
    start: str


def find_system(project: Project, name: str) -> SystemSpec:
    """The web system ``name`` as the project's workflows declare it."""
    declared: set[str] = set()
    for path in project.workflow_files().values():
        try:
            workflow = project.load(path)
        except TandemError:
            continue  # a workflow with problems: 'run.py validate' reports them
        declared |= set(workflow.systems)
        spec = workflow.systems.get(name)
        if spec is not None:
            if spec.kind != "web":
                raise RecordError(
                    f"system {name!r} is a {spec.kind} system: the recorder records web systems"
                )
            return spec
    known = ", ".join(sorted(declared)) or "none"
    raise RecordError(f"no workflow of the project declares a system {name!r} (systems: {known})")


def target_for(project: Project, *, system: str | None, url: str | None, start: str | None) -> Target:
    """The system to record in, from ``--system`` or ``--url``."""
    if (system is None) == (url is None):
        raise RecordError("give --system NAME (a system of the project) or --url URL")
    if system is not None:
        return Target(system, find_system(project, system), start or "/")
    assert url is not None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RecordError(f"--url needs an address like http://host:port/path, got {url!r}")
    base = f"{parts.scheme}://{parts.netloc}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target("app", SystemSpec(kind="web", url=base), start or path)


def spec_as_written(spec: SystemSpec) -> dict[str, Any]:
    """A system's declaration as a workflow writes it."""
    return spec.model_dump(exclude_none=True, exclude_defaults=True, mode="json")


@contextlib.contextmanager
def on_a_display(display: str | None) -> Iterator[str]:
    """``DISPLAY`` for the browser: the one given, the current one, or a private Xvfb."""
    chosen = display or os.environ.get("DISPLAY")
    if chosen:
        previous = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = chosen
        try:
            yield chosen
        finally:
            if previous is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = previous
        return
    with VirtualDisplay() as virtual:
        os.environ["DISPLAY"] = virtual.name
        try:
            yield virtual.name
        finally:
            os.environ.pop("DISPLAY", None)


def record(
    project: Project,
    target: Target,
    output: Path,
    *,
    name: str,
    credentials: str | None = None,
    display: str | None = None,
    debug_port: int | None = None,
    announce: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> Recording:
    """Record until the person closes the browser (or ``stop`` is set, or SIGINT/SIGTERM).

    The workflow in ``output`` is rewritten after every recorded step.
    """
    stop = stop or threading.Event()
    entry = credentials or target.spec.credentials or f"{target.system}_robot"
    with on_a_display(display) as shown_on:
        browser = RecorderBrowser(debug_port=debug_port)
        try:
            session = _logged_in(project, target, browser)
            recording = Recording(system=target.system, base_url=session.base_url, credentials=entry)
            spec = spec_as_written(target.spec)

            shown = 0  # steps printed so far: each once it is settled (the next one began)

            def save(final: bool = False) -> None:
                nonlocal shown
                text = recording.yaml(name, spec)
                partial = output.with_name(output.name + ".partial")
                partial.write_text(text, encoding="utf-8")
                partial.replace(output)
                settled = len(recording.steps) if final else len(recording.steps) - 1
                for step in recording.steps[shown:settled]:
                    announce(step_text(step))
                shown = max(shown, settled)

            recorder = Recorder(session, recording, save)
            recorder.start(target.start)
            announce(
                f"recording in {target.system} on display {shown_on}: work in the browser, "
                f"then close it (or press Ctrl+C); the steps go to {output}"
            )
            with _stopping_on_signals(stop):
                recorder.wait(stop)
            save(final=True)
            return recording
        finally:
            browser.close()


def _logged_in(project: Project, target: Target, browser: RecorderBrowser) -> Any:
    """The system's session, logged in through its login workflow by the engine."""
    sessions = RecorderSessions(browser)
    flow = Workflow.model_validate(
        {
            "name": "record_login",
            "systems": {target.system: target.spec},
            "steps": [InStep.model_validate({"in": target.system, "steps": []})],
        }
    )
    engine = Engine(project, humans=InMemoryHumans(), systems=sessions, robot="recorder")
    run = engine.run(flow, {})
    if run.status != "done" or browser.session is None:
        raise RecordError(f"could not open {target.system}: {run.error or run.status}")
    return browser.session


@contextlib.contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM end the recording (the file is kept)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
