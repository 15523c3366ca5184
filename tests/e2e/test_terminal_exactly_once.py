"""Exactly once on a green screen, through the real worker: a batch of address changes is queued,
``run.py worker`` runs two robots that claim the cases, and a robot is SIGKILLed right after its
host saved an address (after F5, during the host's input lock, before the robot could verify or
record anything). The case runs again in another robot, whose ``ensure`` reads the screen, finds
the address saved and saves nothing twice. Counted in the host's own records: 0 double saves,
0 wrong values.

The host locks its input 0.2-0.6 s after every F5 (as real hosts do), so there is time to kill
a robot between the save and its verification; the test checks that its kills landed there (the
case's later run found the address: ``{"changed": false}``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from orchestrator.service import Orchestrator
from robots.language.project import Project
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

CASES = [
    {"customer_id": "C000001", "street": "Öhringer Straße 5", "postal_code": "74613", "city": "Öhringen"},
    {"customer_id": "C000002", "street": "Zum Ölberg 12", "postal_code": "70173", "city": "Stuttgart"},
    {
        "customer_id": "C000003",
        "street": "Äußere Sulzbacher Str. 3",
        "postal_code": "90491",
        "city": "Nürnberg",
    },
    {"customer_id": "C000004", "street": "Übersee-Allee 7", "postal_code": "20457", "city": "Hamburg"},
    {"customer_id": "C000005", "street": "Große Bleiche 40", "postal_code": "55116", "city": "Mainz"},
    {"customer_id": "C000006", "street": "Élysée-Weg 2", "postal_code": "01067", "city": "Dresden"},
]
KILLS = 3


def saves(data: Path) -> list[dict[str, object]]:
    """The host's audit of its saves (one line per F5 that saved)."""
    path = data / "host.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [entry for entry in map(json.loads, lines) if entry["action"] == "address_changed"]


def host_programs(data: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if str(data) in line and "demo.host" in line:
            found.append(process)
    return found


@pytest.mark.timeout(600)
def test_robots_of_the_worker_killed_right_after_the_save_key_save_nothing_twice_and_nothing_wrong(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    (project / "workflows" / "logins").mkdir(parents=True)
    shutil.copy(ROOT / "workflows" / "host_address_change.yaml", project / "workflows")
    shutil.copy(ROOT / "workflows" / "logins" / "host_login.yaml", project / "workflows" / "logins")
    data = tmp_path / "host-data"
    data.mkdir()
    orch = Orchestrator(f"sqlite:///{tmp_path / 'tandem.db'}", project=Project(project))
    case_of = {
        case["customer_id"]: orch.create_case("host_address_change", f"host-{case['customer_id']}", case)[
            0
        ].id
        for case in CASES
    }
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TANDEM_PYTHON": sys.executable,
        "TANDEM_DEMO_DATA": str(data),
        "TANDEM_HOST_IDLE": "0",
        "TANDEM_SECRET_TERMINAL_ROBOT_USERNAME": "ROBOT",
        "TANDEM_SECRET_TERMINAL_ROBOT_PASSWORD": "term-pw-9",
    }
    env.pop("TANDEM_HOME", None)  # the project is named with --project
    log_path = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "worker",
            "--project",
            str(project),
            "--robots",
            "2",
            "--lease",
            "8",
            "--database-url",
            orch.url,
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("w"),
    )
    killed: list[str] = []  # customers whose robot was killed right after the host saved
    deadline = time.monotonic() + 480
    try:
        while time.monotonic() < deadline:
            counts = orch.count_cases()
            if counts.get("queued", 0) + counts.get("running", 0) == 0:
                break
            for entry in saves(data):
                customer = str(entry["entity"])
                if len(killed) >= KILLS or customer in killed:
                    continue
                robot = next(
                    (r for r in orch.list_robots() if r.status == "busy" and r.case_id == case_of[customer]),
                    None,
                )
                if robot is not None and psutil.pid_exists(robot.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(robot.pid, signal.SIGKILL)  # the host saved; the robot knows nothing
                        killed.append(customer)
            time.sleep(0.02)
        else:
            log = log_path.read_text(encoding="utf-8", errors="replace")
            pytest.fail(f"cases still open after the time limit: {orch.count_cases()}\n{log[-4000:]}")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=120)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert len(killed) == KILLS, f"only {len(killed)} robots were killed after a save\n{log[-3000:]}"
    saved = Counter(str(entry["entity"]) for entry in saves(data))
    assert set(saved) == set(case_of), saved
    assert max(saved.values()) == 1, f"saved twice: {[c for c, n in saved.items() if n > 1]}"  # 0 double
    stored = json.loads((data / "host-customers.json").read_text(encoding="utf-8"))
    for case in CASES:  # 0 wrong values, in the host's own data
        held = stored[case["customer_id"]]
        assert {k: held[k] for k in ("street", "postal_code", "city")} == {
            k: case[k] for k in ("street", "postal_code", "city")
        }
    for customer, case_id in case_of.items():
        timeline = orch.case_timeline(case_id)
        assert timeline.case.status == "done", (customer, timeline.case.status, log[-3000:])
        if customer in killed:
            # The kill landed between the save and its verification: a later run found the address.
            found = [s for s in timeline.steps if s.kind == "ensure" and s.outputs == {"changed": False}]
            assert len(timeline.runs) >= 2 and found, (
                customer,
                [(s.path, s.outputs) for s in timeline.steps],
            )
    orch.close()
    deadline = time.monotonic() + 10
    while host_programs(data) and time.monotonic() < deadline:
        time.sleep(0.2)  # a killed robot's host ends when its pseudo-terminal closes
    orphans = host_programs(data)
    assert not orphans, f"host programs outlived their robots: {[p.pid for p in orphans]}"
