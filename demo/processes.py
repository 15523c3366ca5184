"""What ``run.py demo`` runs beside itself, started and stopped without leftovers.

Owns ``ControlRoomServer`` (the control room app served by uvicorn in a thread; the demo,
the e2e tests and the benchmarks use it), ``RobotProcess`` and ``start_robots`` (the robots'
worker in a process group of its own, its environment marked so whatever it starts can be
found and ended: ``marked_processes``), ``port_taken`` and ``DemoError``. The demo itself,
which starts these in order, is ``demo.launcher``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

#: How long the robots get to finish their current case after Ctrl-C before they are killed.
#: Short on purpose: the demo's database is thrown away, so an interrupted case costs nothing,
#: and a demo should stop when asked.
ROBOT_STOP_SECONDS = 10.0


class DemoError(RuntimeError):
    """The demo cannot start (a port is taken, a part did not come up); the message says what to do."""


def port_taken(host: str, port: int) -> bool:
    """Whether something listens on (or holds) ``host:port`` already."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the caller's main thread owns SIGINT/SIGTERM
        pass


class ControlRoomServer:
    """The control room app served by uvicorn in a thread (the demo, tests and benchmarks).

    ``stop()`` first ends the open callout streams (SSE connections would otherwise keep
    uvicorn waiting), then stops the server and waits for its thread.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        from demo.server import free_port

        self.app = app
        self.host = host
        self.port = port or free_port(host)
        self._server = _Server(
            uvicorn.Config(
                app,
                host=host,
                port=self.port,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=3,
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="control-room", daemon=True)

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> ControlRoomServer:
        """Start serving and wait until the health check answers; ``DemoError`` if it does not."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code < 500:
                    return self
            if not self._thread.is_alive():
                break
            time.sleep(0.1)
        self.stop()
        raise DemoError(f"the control room did not answer on {self.url} (is port {self.port} taken?)")

    def stop(self) -> None:
        """End the callout streams, stop the server, wait for its thread."""
        from orchestrator.control_room.callouts import hub_closed_quietly

        hub_closed_quietly(getattr(self.app.state, "callout_hub", None))
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(10)

    def __enter__(self) -> ControlRoomServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class RobotProcess:
    """The robots' worker process (its own process group) and its log."""

    process: subprocess.Popen[bytes]
    log_path: Path
    marker: str
    """The value of ``MARKER_VARIABLE`` in the environment of the worker and all it starts."""
    _log: Any = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        """The worker's pid (= its process group id)."""
        return self.process.pid

    def stop(self, timeout: float = ROBOT_STOP_SECONDS) -> int | None:
        """SIGTERM the worker, wait, then SIGKILL whatever is left of its group; the exit code."""
        if self.process.poll() is None:
            # The worker alone: it tells its robots to finish their case and close their
            # browsers; a SIGTERM to the whole group would hit the browsers mid-step.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        # Whatever the worker left behind in its group (a browser, Xvfb) goes too ...
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        # ... and what left the group (Playwright starts browsers in a session of their own):
        # everything started under this demo carries its marker in the environment.
        for pid in marked_processes(self.marker):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
        return self.process.returncode


#: Set in the environment of the robots' worker; its children inherit it, so whatever they
#: start can be found again (and ended) even when it left the process group.
MARKER_VARIABLE = "TANDEM_DEMO_RUN"


def marked_processes(marker: str) -> list[int]:
    """Pids of live processes (of this user) whose environment carries ``MARKER_VARIABLE=marker``."""
    wanted = f"{MARKER_VARIABLE}={marker}".encode()
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: the process group is all we can go by
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def start_robots(command: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> RobotProcess:
    """Start the worker command in its own process group, output to ``log_path``."""
    log = log_path.open("ab")
    marker = secrets.token_hex(8)
    process = subprocess.Popen(
        command,
        env={**env, MARKER_VARIABLE: marker},
        cwd=str(cwd),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        process_group=0,  # Ctrl-C in the terminal reaches the demo only; it stops the robots in order
    )
    return RobotProcess(process, log_path, marker, log)
