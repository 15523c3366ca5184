"""Exactly once on a green screen: robots killed (SIGKILL) right after the save key, the case run
again by a new robot; the shipped host_address_change saves each address once, with the right values."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

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
]


def robot(project: Path, env: dict[str, str], case: dict[str, str]) -> subprocess.Popen[bytes]:
    """``run.py run`` of one case: a robot process with its own terminal session to the host."""
    inputs = [arg for key, value in case.items() for arg in ("-i", f"{key}={value}")]
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "run",
            "host_address_change",
            "--project",
            str(project),
            *inputs,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def saves(data: Path) -> list[dict[str, object]]:
    path = data / "host.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [entry for entry in map(json.loads, lines) if entry["action"] == "address_changed"]


def test_robots_killed_right_after_the_save_key_save_nothing_twice_and_nothing_wrong(tmp_path: Path) -> None:
    (tmp_path / "workflows" / "logins").mkdir(parents=True)
    shutil.copy(ROOT / "workflows" / "host_address_change.yaml", tmp_path / "workflows")
    shutil.copy(ROOT / "workflows" / "logins" / "host_login.yaml", tmp_path / "workflows" / "logins")
    data = tmp_path / "data"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TANDEM_PYTHON": sys.executable,
        "TANDEM_DEMO_DATA": str(data),
        "TANDEM_HOST_IDLE": "0",
        "TANDEM_SECRET_TERMINAL_ROBOT_USERNAME": "ROBOT",
        "TANDEM_SECRET_TERMINAL_ROBOT_PASSWORD": "term-pw-9",
    }
    kills = 0
    for case in CASES:
        before = len(saves(data))
        first = robot(tmp_path, env, case)
        deadline = time.monotonic() + 90
        while len(saves(data)) == before and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if first.poll() is None:
            os.kill(first.pid, signal.SIGKILL)  # right after F5: the host saved, the robot knows nothing
            kills += 1
        first.wait(timeout=30)
        again = robot(tmp_path, env, case)
        output, _ = again.communicate(timeout=120)
        assert again.returncode == 0, output.decode(errors="replace")[-2000:]
        assert '"changed": false' in output.decode(), "the second robot should have found the address saved"
    assert kills == len(CASES), f"only {kills} robots were killed after the save"
    entries = saves(data)
    per_customer = [str(entry["entity"]) for entry in entries]
    assert sorted(per_customer) == sorted(case["customer_id"] for case in CASES)  # 0 double saves
    stored = json.loads((data / "host-customers.json").read_text(encoding="utf-8"))
    for case in CASES:  # 0 wrong values
        saved = stored[case["customer_id"]]
        assert {k: saved[k] for k in ("street", "postal_code", "city")} == {
            k: case[k] for k in ("street", "postal_code", "city")
        }
    time.sleep(1)
    orphans = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(data) in " ".join(p.info["cmdline"] or []) and "demo.host" in " ".join(p.info["cmdline"] or [])
    ]
    assert not orphans, f"host programs outlived their killed robots: {[p.pid for p in orphans]}"
