"""Shared test helpers: workflows from text, small projects in tmp folders, schemas of their
own on the PostgreSQL test server."""

from __future__ import annotations

import asyncio
import os
import textwrap
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from robots.errors import Problem
from robots.language.loader import parse_workflow
from robots.language.model import Workflow
from robots.language.project import Project

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent

POSTGRES_URL = os.environ.get("TANDEM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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


@pytest.fixture(autouse=True, scope="session")
def runtime_files_in_a_tmp_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Databases, logs and artifacts of the code under test (and of the commands it starts)
    go to a tmp folder, never into the checkout (robots.language.project_paths.data_dir)."""
    folder = tmp_path_factory.mktemp("tandem-data")
    saved = os.environ.get("TANDEM_DATA_DIR")
    os.environ["TANDEM_DATA_DIR"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("TANDEM_DATA_DIR", None)
    else:
        os.environ["TANDEM_DATA_DIR"] = saved


@pytest.fixture(autouse=True)
def project_settings_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in this process (Typer's CliRunner) put the project they settled into
    the environment (robots.language.project_paths.use_project): give each test back the one it had."""
    for name in ("TANDEM_HOME", "TANDEM_DATA_DIR", "TANDEM_DATABASE_URL"):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)


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


def postgres_unreachable() -> str | None:
    """Why the PostgreSQL test server cannot be used, or None when it can."""
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        return (
            f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(error).__name__}); "
            "start it or point TANDEM_TEST_POSTGRES_URL at one"
        )
    return None


@dataclass(frozen=True)
class PostgresSchema:
    """A schema of its own on the test server, and the URL whose connections work in it."""

    name: str
    url: str


@contextmanager
def postgres_schema(prefix: str) -> Iterator[PostgresSchema]:
    """A fresh schema ``<prefix>_<random>`` on the test server, dropped (with all in it) at the
    end; the test is skipped, saying why, when the server cannot be reached."""
    problem = postgres_unreachable()
    if problem:
        pytest.skip(problem)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield PostgresSchema(name, f"{POSTGRES_URL}{separator}options=-csearch_path%3D{name}")
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()
