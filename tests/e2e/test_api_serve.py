"""``run.py serve`` starts the control room on SQLite by default and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from demo.server import free_port
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_serve_starts_on_a_sqlite_file_in_the_projects_data_folder_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    port = free_port("127.0.0.1")
    (tmp_path / "workflows").mkdir()  # the folder it starts in is the project
    ours = ("TANDEM_DATABASE_URL", "TANDEM_SECRET_KEY", "TANDEM_HOME", "TANDEM_DATA_DIR")
    env = {k: v for k, v in os.environ.items() if k not in ours}
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = None
        for _ in range(600):  # up to a minute on a busy machine; returns as soon as it answers
            if server.poll() is not None:
                break
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert health is not None, f"the server did not start:\n{server.communicate()[0]}"
        assert health.json() == {"status": "ok", "database": "ok"}
        assert (tmp_path / ".tandem" / "tandem.db").exists()
        assert httpx.post(f"http://127.0.0.1:{port}/api/cases", json={}).status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/webform/address-change").status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit by SIGTERM).
    assert server.returncode in (0, -signal.SIGTERM), output
    assert f"control room on http://127.0.0.1:{port}/" in output
