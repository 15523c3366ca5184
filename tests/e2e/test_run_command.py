"""``run.py run`` runs a real process against the demo apps: its own browser, its own Xvfb, real mail."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from connectors.mail_sink import MailSink
from demo.server import DemoApps
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_run_address_change_from_the_command_line(
    demo: DemoApps, mail_sink: MailSink, robot_env: dict[str, str]
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "run",
            "address_change",
            "-i",
            "customer_id=C000011",
            "-i",
            "street=Am Markt 1",
            "-i",
            "postal_code=28195",
            "-i",
            "city=Bremen",
            "-i",
            "email=sofia.wolf@example.com",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **robot_env, "TANDEM_DISPLAY": "xvfb"},
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    record = json.loads(result.stdout)
    assert record["status"] == "done"
    assert record["outputs"]["systems_updated"] == ["crm", "billing", "terminal"]
    assert [e["entity"] for e in demo.audit("crm") if e["action"] == "address_changed"] == ["C000011"]
    (mail,) = mail_sink.wait_for(1)
    assert mail["To"] == "sofia.wolf@example.com"
    for secret in (value for key, value in robot_env.items() if key.endswith("_PASSWORD")):
        # Digits on both sides are a timestamp that happens to hold a numeric PIN, not a leak.
        leaked = re.search(rf"(?<![0-9]){re.escape(secret)}(?![0-9])", result.stdout + result.stderr)
        assert leaked is None, f"a robot password is in the output, at character {leaked.start()}"
