"""``run.py demo`` as a new user runs it: it comes up, robots work cases, a task reaches the
inbox, and Ctrl-C (SIGINT) leaves no process and no listening port behind."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

MARKER, MARKER_VALUE = "TANDEM_TEST_DEMO_RUN", uuid.uuid4().hex


class Output:
    """The demo's output, collected by a thread (the demo never reads stdin, we never write)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    @property
    def text(self) -> str:
        """Everything printed so far."""
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first match of ``pattern`` in the output; fails with the output when none comes."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = re.search(pattern, self.text, re.MULTILINE)
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"the demo did not print {pattern!r}; it printed:\n{self.text}")
                self._changed.wait(min(left, 1.0))


def _session_processes(session_id: int) -> list[str]:
    """Processes still alive in a session (the demo and everything it started share it)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            # Fields after the ")" that ends the command name: state ppid pgrp session ...
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) == session_id and fields[0] != "Z":
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                alive.append(f"{entry.name} {command[:120]}")
    return alive


def _carrying(variable: str, value: str) -> list[str]:
    """Live processes whose environment has ``variable=value``: everything the demo started
    inherits it, even a browser that left the demo's session."""
    wanted = f"{variable}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if wanted in (entry / "environ").read_bytes().split(b"\0"):
                    stat = (entry / "stat").read_text()
                    if stat[stat.rindex(")") + 2] != "Z":
                        found.append(f"{entry.name} {(entry / 'comm').read_text().strip()}")
    return found


def _leftovers(demo_pid: int) -> list[str]:
    """What still runs of the demo: in its session, or carrying this test's marker."""
    return sorted(set(_session_processes(demo_pid)) | set(_carrying(MARKER, MARKER_VALUE)))


def _port_free(host: str, port: int) -> bool:
    """Nobody listens there: a server could bind it again (connections of the closed server
    linger in TIME_WAIT, which SO_REUSEADDR permits, as every server sets it)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@pytest.fixture
def demo_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Output]]:
    """``run.py demo --free-ports`` in its own session, stopped hard if the test fails midway."""
    env = {**os.environ, "TANDEM_HOME": str(ROOT), "PYTHONUNBUFFERED": "1", MARKER: MARKER_VALUE}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "demo", "--free-ports", "--robots", "2"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,  # as in CI: nothing to read from
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(process)
    yield process, output
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    for line in _leftovers(process.pid):  # only after a failure: never leave them to the next test
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def test_demo_runs_cases_into_the_inbox_and_stops_clean_on_ctrl_c(
    demo_process: tuple[subprocess.Popen[str], Output],
) -> None:
    process, output = demo_process
    base = output.wait_for(r"Agent inbox\s+(http://\S+)/inbox", timeout=60).group(1)
    output.wait_for(r"Ctrl-C stops everything", timeout=30)
    app_urls = re.findall(
        r"^\s+(?:crm|billing|nordlog|suedexpress)\s+(http://\S+)", output.text, re.MULTILINE
    )
    assert len(app_urls) == 4, output.text

    with (
        httpx.Client(base_url=base, timeout=10, follow_redirects=True) as agent,
        httpx.Client(base_url=base, timeout=10, follow_redirects=True) as ops,
    ):
        assert (
            agent.post("/login", data={"username": "max.agent", "password": "agent-demo-2"}).status_code
            == 200
        )
        assert ops.post("/login", data={"username": "olaf.ops", "password": "ops-demo-1"}).status_code == 200
        deadline = time.monotonic() + 75
        tasks: list[dict[str, object]] = []
        done = 0
        # Cases processed: one became a task in Munich's inbox, and one more is done or with a person.
        while time.monotonic() < deadline and not (tasks and done + len(tasks) >= 2):
            tasks = agent.get("/api/tasks").json()["tasks"]
            done = ops.get("/ops/kpis.json", params={"period": "today"}).json()["total"]["done"]
            time.sleep(1)
        assert tasks, f"no task reached max.agent's inbox; the demo printed:\n{output.text}"
        assert done + len(tasks) >= 2, f"the robots processed too few cases; the demo printed:\n{output.text}"
        assert {task["queue"] for task in tasks} <= {"appointments", "appointment_exceptions", "assist"}
        page = agent.get("/inbox")
        assert str(tasks[0]["id"]) in page.text

    # Every command of the demo's project finds the demo's database while it runs.
    env = {**os.environ, "TANDEM_HOME": str(ROOT)}
    for command in (["cases", "--json"], ["schedules", "show", "nightly_address_changes"]):
        seen = subprocess.run(
            [sys.executable, str(ROOT / "run.py"), *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert seen.returncode == 0, seen.stderr
        assert "using the running demo's database" in seen.stderr
    cases = json.loads(
        subprocess.run(
            [sys.executable, str(ROOT / "run.py"), "cases", "--json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    assert {case["id"] for case in cases} >= {str(task["case_id"]) for task in tasks}

    os.kill(process.pid, signal.SIGINT)  # what Ctrl-C sends (to the demo only: robots are stopped by it)
    assert process.wait(60) == 0, output.text
    output.wait_for(r"stopped; nothing left running", timeout=5)

    leftovers = _leftovers(process.pid)
    for _ in range(20):  # killed children may take a moment to be reaped by init
        if not leftovers:
            break
        time.sleep(0.25)
        leftovers = _leftovers(process.pid)
    assert leftovers == [], "processes left behind by the demo:\n" + "\n".join(leftovers)
    for url in [base, *app_urls]:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        assert _port_free(host, int(port)), f"{url} is still taken after the demo stopped"
