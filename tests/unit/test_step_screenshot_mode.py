"""TANDEM_STEP_SCREENSHOTS: the modes a robot accepts, and a clear refusal of anything else."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from robots.engine.runner import STEP_SCREENSHOT_MODES, Engine, step_screenshot_mode
from tests.conftest import ROOT


def test_the_default_follows_what_the_workflows_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TANDEM_STEP_SCREENSHOTS", raising=False)
    assert step_screenshot_mode() == "workflow"
    monkeypatch.setenv("TANDEM_STEP_SCREENSHOTS", " All ")
    assert step_screenshot_mode() == "all"
    assert Engine().step_screenshots == "all"
    assert step_screenshot_mode("off") == "off"
    assert set(STEP_SCREENSHOT_MODES) == {"workflow", "all", "off"}


def test_an_unknown_mode_is_refused_with_the_modes_there_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_STEP_SCREENSHOTS", "yes")
    with pytest.raises(
        ValueError, match="'yes' is not a step screenshot mode: use one of workflow, all, off"
    ):
        step_screenshot_mode()


def test_the_cli_refuses_it_before_starting_a_robot() -> None:
    result = subprocess.run(
        [sys.executable, "run.py", "run", "delivery_appointment", "-i", "order_number=O-100001"],
        cwd=ROOT,
        env={**os.environ, "TANDEM_STEP_SCREENSHOTS": "sometimes"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "'sometimes' is not a step screenshot mode" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
