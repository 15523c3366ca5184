"""Chromium, the Playwright driver and desktop programs start without the robot's secrets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from robots.drivers.browser import launch_options
from robots.drivers.clean_env import clean_environment, is_secret
from robots.drivers.desktop_session import display_env
from tests.conftest import ROOT

SECRET = "Geheim-Robot-Password-9931"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TANDEM_SECRET_CRM_ROBOT_PASSWORD", "x"),
        ("TANDEM_SECRET_KEY", "x"),
        ("DB_PASSWORD", "x"),
        ("GITHUB_TOKEN", "x"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
        ("TANDEM_DATABASE_URL", "postgresql+psycopg://tandem:hunter2@db/tandem"),
    ],
)
def test_secret_looking_variables_are_recognised(name: str, value: str) -> None:
    assert is_secret(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PATH", "/usr/bin"),
        ("DISPLAY", ":99"),
        ("XAUTHORITY", "/tmp/x"),
        ("HOME", "/root"),
        ("LANG", "de_DE"),
    ],
)
def test_what_programs_need_is_kept(name: str, value: str) -> None:
    assert not is_secret(name, value)


def test_browser_and_desktop_environments_hold_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_SECRET_CRM_ROBOT_PASSWORD", SECRET)
    assert SECRET not in json.dumps(launch_options()["env"])
    assert SECRET not in json.dumps(display_env(":99"))
    assert "PATH" in clean_environment()


_PROBE = """
import json, os, sys
from robots.drivers.browser import acquire_playwright, launch_options, release_playwright

def descendants(pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if parent == pid:
            found.append(int(entry))
            found.extend(descendants(int(entry)))
    return found

playwright = acquire_playwright()
browser = playwright.chromium.launch(**launch_options())
leaks, checked = [], 0
for pid in descendants(os.getpid()):
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            text = environ.read().decode("utf-8", "replace")
    except OSError:
        continue
    checked += 1
    if sys.argv[1] in text:
        leaks.append(pid)
browser.close()
release_playwright()
print(json.dumps({"checked": checked, "leaks": leaks}))
"""


@pytest.mark.e2e
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_no_chromium_or_driver_process_holds_the_secret() -> None:
    if shutil.which("chromium") is None and not os.environ.get("TANDEM_CHROMIUM"):
        pytest.skip("no system Chromium (apt-get install chromium)")
    environment = {**os.environ, "TANDEM_SECRET_CRM_ROBOT_PASSWORD": SECRET, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, SECRET],
        env=environment,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["checked"] >= 2, outcome  # the driver and at least one Chromium process
    assert outcome["leaks"] == [], outcome
