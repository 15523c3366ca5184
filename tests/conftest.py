"""Shared test helpers: workflows from text, small projects in tmp folders."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from robots.errors import Problem
from robots.loader import parse_workflow
from robots.model import Workflow
from robots.project import Project

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent


def load_text(text: str, file: str = "test.yaml") -> tuple[Workflow | None, list[Problem]]:
    """Parse a workflow written inline (dedented)."""
    return parse_workflow(textwrap.dedent(text).lstrip("\n"), file)


def workflow(text: str) -> Workflow:
    """A workflow that must load without problems."""
    flow, problems = load_text(text)
    assert not problems, "\n".join(map(str, problems))
    assert flow is not None
    return flow


def steps_workflow(steps: str, header: str = "") -> Workflow:
    """A workflow named t made of the given steps (dedented YAML list)."""
    body = textwrap.indent(textwrap.dedent(steps).strip("\n"), "  ")
    return workflow(f"name: t\n{textwrap.dedent(header)}steps:\n{body}\n")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """An empty project (workflows/ and business_rules/) in a tmp folder."""
    (tmp_path / "workflows").mkdir()
    (tmp_path / "business_rules").mkdir()
    return Project(tmp_path)


def write(path: Path, text: str) -> Path:
    """Write dedented text to ``path`` (creating folders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end in a thread of its own.

    Playwright's sync driver (kept by session-wide e2e fixtures) makes the main thread's
    event loop look running, so ``asyncio.run`` there fails; a fresh thread has no loop.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
