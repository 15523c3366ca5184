"""``run.py token revoke`` promises what the server does: revocation within the token cache time."""

from __future__ import annotations

import subprocess
import sys

from orchestrator.control_room.app import ServerSettings
from tests.conftest import ROOT


def test_the_revoke_help_names_the_cache_time_not_at_once() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "token", "revoke", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert "at once" not in done.stdout
    assert "token cache time" in done.stdout
    assert f"{ServerSettings().token_cache_seconds:g} s" in done.stdout
