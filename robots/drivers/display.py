"""A private X display (Xvfb) for desktop robots and tests: started, waited for, stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

from robots.errors import SystemException

stops = 0
"""How many virtual displays this process stopped: a new one may reuse a stopped one's
name, so clients that cache a connection by name (pyautogui) must reconnect after a stop."""


def _display_taken(number: int) -> bool:
    return Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists()


class VirtualDisplay:
    """``with VirtualDisplay() as display:`` runs Xvfb on a free display number (``display.name``)."""

    def __init__(self, width: int = 1280, height: int = 1024, depth: int = 24, start_at: int = 90) -> None:
        self.width, self.height, self.depth = width, height, depth
        self.start_at = start_at
        self.number: int | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        """The display's name, e.g. ``:91``."""
        if self.number is None:
            raise RuntimeError("the virtual display is not started")
        return f":{self.number}"

    def env(self) -> dict[str, str]:
        """The environment with ``DISPLAY`` pointing here."""
        return {**os.environ, "DISPLAY": self.name}

    def start(self, timeout: float = 10.0) -> VirtualDisplay:
        """Start Xvfb and wait until it accepts connections."""
        binary = shutil.which("Xvfb")
        if binary is None:
            raise SystemException(
                "Xvfb is not installed: install it with 'apt-get install xvfb' (scripts/setup.sh does)"
            )
        for number in range(self.start_at, self.start_at + 200):
            if _display_taken(number):
                continue
            screen = f"{self.width}x{self.height}x{self.depth}"
            process = subprocess.Popen(
                [binary, f":{number}", "-screen", "0", screen, "-nolisten", "tcp", "-noreset"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if self._wait_ready(number, process, timeout):
                self.number, self.process = number, process
                return self
            _terminate(process)  # lost a race for this number, or it failed: try the next one
        raise SystemException(
            f"could not start Xvfb on any display number from :{self.start_at} to :{self.start_at + 199}"
        )

    def _wait_ready(self, number: int, process: subprocess.Popen[bytes], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        socket_path = Path(f"/tmp/.X11-unix/X{number}")
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if socket_path.exists():
                try:
                    from Xlib import display as xdisplay

                    xdisplay.Display(f":{number}").close()
                    return True
                except Exception:
                    pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop Xvfb (terminate, then kill) and forget the display."""
        global stops
        if self.process is not None:
            _terminate(self.process)
            stops += 1
        self.process, self.number = None, None

    def __enter__(self) -> VirtualDisplay:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process.stderr is not None:
        process.stderr.close()
