"""TANDEM_TRACE: the trace modes a robot accepts, and a clear refusal of anything else."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from robots.drivers.web_session import TRACE_MODES, trace_mode
from tests.conftest import ROOT


def test_the_default_is_a_trace_kept_on_failure_without_dom_snapshots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TANDEM_TRACE", raising=False)
    assert trace_mode() == "on-failure"
    monkeypatch.setenv("TANDEM_TRACE", " Snapshots ")
    assert trace_mode() == "snapshots"
    assert trace_mode("off") == "off"
    assert set(TRACE_MODES) == {"on-failure", "snapshots", "screenshots", "off"}


def test_an_unknown_mode_is_refused_with_the_modes_there_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_TRACE", "always")
    with pytest.raises(
        ValueError, match="'always' is not a trace mode: use one of on-failure, snapshots, screenshots, off"
    ):
        trace_mode()


def test_the_cli_refuses_it_before_starting_a_robot() -> None:
    result = subprocess.run(
        [sys.executable, "run.py", "run", "delivery_appointment", "-i", "order_number=O-100001"],
        cwd=ROOT,
        env={**os.environ, "TANDEM_TRACE": "sometimes"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "'sometimes' is not a trace mode" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
