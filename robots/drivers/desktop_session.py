"""Desktop sessions: a real X display (Xvfb by default) and the programs a robot works in.

Each robot has its own display: the one in ``DISPLAY`` when ``TANDEM_DISPLAY=current``,
otherwise a private Xvfb started on first use and stopped with the robot. A desktop
system's ``program`` is started once, logged into once (its ``login`` sub-workflow) and kept
across cases, like a clerk's terminal window; after a system exception it is closed and
started again. pyautogui drives mouse and keyboard; screenshots come from mss.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from loguru import logger

from robots.drivers.clean_env import clean_environment
from robots.drivers.systems import LoginRunner, SystemSessions
from robots.errors import SystemException
from robots.language import expressions
from robots.language.model import SystemSpec


@dataclass
class DesktopSession:
    """What desktop actions work with: the display, the program's process and window."""

    system: str
    spec: SystemSpec
    display: str
    process: subprocess.Popen[bytes] | None
    window_id: str | None = None
    case_id: str | None = None
    launched: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """Programs started by ``desktop.launch``; stopped with the session so none outlives the robot."""
    project_root: Path | None = None
    """The folder of the project whose workflow uses the system: its images are relative to it."""

    def activate(self) -> None:
        """Raise the program's window and give it the keyboard focus (there is no window manager
        on Xvfb to do it); a ``SystemException`` when it cannot have the focus."""
        if self.window_id:
            from robots.drivers.xwindow import focus

            focus(self.display, self.window_id, what=self.system)


def display_env(display: str) -> dict[str, str]:
    """The environment with ``DISPLAY`` set, without secrets (``robots.drivers.clean_env``)."""
    return {**clean_environment(), "DISPLAY": display}


def find_window(display: str, title_pattern: str, timeout: float) -> str:
    """The X window id of the first visible window whose title matches; waits up to ``timeout``."""
    if not shutil.which("xdotool"):
        raise SystemException("xdotool is needed to find windows: install it (apt-get install xdotool)")
    deadline = time.monotonic() + timeout
    while True:
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", title_pattern],
            env=display_env(display),
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        ids = found.stdout.split()
        if ids:
            return ids[0]
        if time.monotonic() > deadline:
            raise SystemException(
                f"no window titled like {title_pattern!r} appeared on display {display} within {timeout:g}s"
            )
        time.sleep(0.1)


class DesktopSessions(SystemSessions):
    """The desktop session provider of one robot: its display and its programs."""

    def __init__(self, *, display: str | None = None, launch_timeout: float = 20.0) -> None:
        self._display_name = display
        self._stack = contextlib.ExitStack()
        self._sessions: dict[str, DesktopSession] = {}
        self.launch_timeout = launch_timeout

    @property
    def display(self) -> str:
        """The X display this robot uses, started on first use."""
        if self._display_name is None:
            current = os.environ.get("DISPLAY")
            if current and os.environ.get("TANDEM_DISPLAY", "xvfb") == "current":
                self._display_name = current
            else:
                from robots.drivers.display import VirtualDisplay

                virtual = self._stack.enter_context(VirtualDisplay())
                self._display_name = virtual.name
            # pyautogui reads DISPLAY when it is imported, so the robot's process uses this one.
            os.environ["DISPLAY"] = self._display_name
        return self._display_name

    def _launch(
        self, name: str, spec: SystemSpec, login: LoginRunner | None, project_root: Path | None = None
    ) -> DesktopSession:
        display = self.display
        process = None
        window_id = None
        if spec.program:
            command = expressions.resolve_env(spec.program, where=f"system {name} (program)")
            try:
                # stderr goes to a file, not a pipe: a pipe nobody reads fills up and then
                # blocks a talkative program for good.
                errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _stop with the program
                process = subprocess.Popen(
                    shlex.split(command),
                    cwd=project_root,  # relative paths in the command line are the project's
                    env=display_env(display),
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                )
                errors_of[process.pid] = errors
            except OSError as error:
                raise SystemException(f"cannot start {name!r} ({command}): {error}") from None
            if spec.window:
                try:
                    window_id = find_window(display, spec.window, self.launch_timeout)
                except SystemException:
                    error_text = _stderr_of(process)
                    _stop(process)
                    raise SystemException(
                        f"{name!r} ({command}) showed no window titled like {spec.window!r}"
                        + (f"; it said: {error_text}" if error_text else "")
                    ) from None
        session = DesktopSession(name, spec, display, process, window_id, project_root=project_root)
        # Kept before the login: a failed login must still leave a screenshot, and the
        # program must be stopped by discard/close rather than outlive the robot.
        self._sessions[name] = session
        session.activate()
        if login is not None:
            login(session)
        logger.info("started {} on display {}", name, display)
        return session

    @contextlib.contextmanager
    def session(
        self,
        name: str,
        spec: SystemSpec,
        *,
        login: LoginRunner | None,
        case_id: str,
        project_root: Path | None = None,
    ) -> Iterator[Any]:
        session = self._sessions.get(name)
        if session is not None and session.process is not None and session.process.poll() is not None:
            logger.warning("{} has exited (code {}): starting it again", name, session.process.returncode)
            self.discard(name)
            session = None
        if session is None:
            session = self._launch(name, spec, login, project_root)
        else:
            session.project_root = project_root or session.project_root
            session.activate()
            if login is not None and spec.logged_out and looks_logged_out(session):
                logger.info("session of {} expired: logging in again", name)
                login(session)
        session.case_id = case_id
        session.activate()
        yield session

    def discard(self, name: str) -> None:
        session = self._sessions.pop(name, None)
        if session is None:
            return
        for process in session.launched:
            _stop(process)
        if session.process is not None:
            _stop(session.process)

    def capture_failure(self, name: str, directory: Path) -> list[str]:
        if name not in self._sessions:
            return []
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{name}-{time.strftime('%H%M%S')}.png"
        try:
            screenshot(self.display, target)
        except Exception as error:
            logger.debug("no screenshot of {}: {}", name, error)
            return []
        return [str(target)]

    def close(self) -> None:
        for name in list(self._sessions):
            self.discard(name)
        self._stack.close()


def looks_logged_out(session: DesktopSession) -> bool:
    """Is the system's ``logged_out`` sign on screen?"""
    return sign_on_screen(session, session.spec.logged_out or "")


def sign_on_screen(session: DesktopSession, sign: str, project_root: Path | None = None) -> bool:
    """Is ``sign`` in the program's window (the whole screen without one): an image (a ``.png``
    path, relative to the project folder: ``project_root``, else the session's) or a text read
    by OCR? A ``SystemException`` names the file when the image is missing."""
    with tempfile.TemporaryDirectory() as folder:
        area = None
        if session.window_id:
            from robots.drivers.xwindow import region_of

            area = region_of(session.display, session.window_id)
        shot = screenshot(session.display, Path(folder) / "screen.png", area)
        if sign.lower().endswith(".png"):
            import pyscreeze

            root = project_root or session.project_root or Path(os.environ.get("TANDEM_HOME", "."))
            needle = Path(sign) if Path(sign).is_absolute() else root / sign
            if not needle.is_file():
                raise SystemException(
                    f"system {session.system}: the image {sign!r} is not there ({needle}); images "
                    "are relative to the project folder (the one holding workflows/)"
                )
            try:
                return pyscreeze.locate(str(needle), str(shot), confidence=0.9) is not None
            except pyscreeze.ImageNotFoundException:
                return False
        from robots.drivers import ocr

        return ocr.locate(shot, sign, match="contains") is not None


errors_of: dict[int, IO[bytes]] = {}
"""The stderr file of each program a session started, by pid (read when it fails to start)."""


def _stderr_of(process: subprocess.Popen[bytes]) -> str:
    errors = errors_of.get(process.pid)
    if process.poll() is None or errors is None:
        return ""
    errors.seek(0)
    return errors.read().decode(errors="replace").strip()[-300:]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    errors = errors_of.pop(process.pid, None)
    if errors is not None:
        errors.close()


def screenshot(display: str, target: Path, region: tuple[int, int, int, int] | None = None) -> Path:
    """Save a PNG of the display (or a region: left, top, width, height) with mss."""
    import mss
    import mss.tools

    grab = getattr(mss, "MSS", None) or mss.mss  # mss 10 renamed the class; 9 has only mss.mss
    with grab(display=display) as grabber:
        monitor = grabber.monitors[0]
        if region is not None:
            left, top, width, height = region
            monitor = {"left": left, "top": top, "width": width, "height": height}
        shot = grabber.grab(monitor)
        mss.tools.to_png(shot.rgb, shot.size, output=str(target))
    return target
