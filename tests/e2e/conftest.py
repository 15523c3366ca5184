"""End-to-end fixtures: the demo apps, a mail sink, a robot with real Chromium and Xvfb, the
control room on loopback and a browser for the people using it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.mail_sink import MailSink
from demo.data import robot_secrets
from demo.processes import ControlRoomServer
from demo.server import DemoApps
from orchestrator.control_room.app import ServerSettings, create_app
from orchestrator.service import Orchestrator
from robots.drivers.browser import acquire_playwright, launch_options, release_playwright
from robots.drivers.systems import ByKind
from robots.engine.human_gateway import InMemoryHumans
from robots.engine.records import RunRecord
from robots.engine.robot import make_sessions
from robots.engine.runner import Engine
from robots.language.model import Workflow
from robots.language.project import Project
from tests.conftest import ROOT


@pytest.fixture(scope="session")
def demo_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoApps]:
    """The demo web apps on free loopback ports, for the whole test session."""
    with DemoApps(data_dir=tmp_path_factory.mktemp("demo-apps")) as apps:
        yield apps


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[MailSink]:
    """A local SMTP server; robots send their mail here."""
    with MailSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def robot_env(
    demo_apps: DemoApps, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The environment a robot of the demo needs: app URLs, logins in the vault, SMTP, terminal data."""
    env = {
        **demo_apps.env(),
        **robot_secrets(),
        **mail_sink.env(),
        "TANDEM_PYTHON": sys.executable,
        "TANDEM_DEMO_DATA": str(tmp_path_factory.mktemp("terminal")),
        "TANDEM_HOME": str(ROOT),
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def robot_sessions(robot_env: dict[str, str]) -> Iterator[ByKind]:
    """One robot's browser and display, kept for the whole session like a real robot's."""
    sessions = make_sessions()
    yield sessions
    sessions.close()


@pytest.fixture
def demo(demo_apps: DemoApps, mail_sink: MailSink) -> DemoApps:
    """The demo apps with seed data and defaults again, and an empty mailbox."""
    demo_apps.reset()
    mail_sink.messages.clear()
    return demo_apps


class Robot:
    """Runs cases of the project's workflows like a worker would."""

    def __init__(self, sessions: ByKind, artifacts: Path) -> None:
        self.humans = InMemoryHumans()
        self.engine = Engine(
            Project(ROOT),
            humans=self.humans,
            systems=sessions,
            artifacts_dir=artifacts,
            robot="e2e-robot",
            sleep=lambda seconds: None,
        )

    def run(self, workflow: str | Workflow, inputs: dict[str, Any], **options: Any) -> RunRecord:
        return self.engine.run(workflow, inputs, **options)


@pytest.fixture
def robot(robot_sessions: ByKind, demo: DemoApps, tmp_path: Path) -> Robot:
    """A robot for one test (its browser and display shared with the other tests)."""
    return Robot(robot_sessions, tmp_path / "artifacts")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Orchestrator]:
    """A fresh orchestrator database for the project, in this test's tmp folder."""
    orchestrator = Orchestrator(f"sqlite:///{tmp_path / 'control-room.db'}", project=Project(ROOT))
    yield orchestrator
    orchestrator.close()


@pytest.fixture
def control_room(store: Orchestrator) -> Iterator[ControlRoomServer]:
    """The control room over ``store``, served by uvicorn on a free loopback port that is its
    public URL too (so the customers' mails of ``store``'s cases link to its status pages)."""
    from demo.server import free_port

    port = free_port("127.0.0.1")
    settings = ServerSettings(
        secret_key="control-room-test-secret-0123456789", public_url=f"http://127.0.0.1:{port}"
    )
    app = create_app(settings, store=store)
    with ControlRoomServer(app, "127.0.0.1", port) as server:
        yield server


@pytest.fixture
def browser() -> Iterator[Any]:
    """A real Chromium for the people using the control room (sharing this thread's Playwright
    driver with the robot)."""
    playwright = acquire_playwright()
    chromium = playwright.chromium.launch(**launch_options())
    yield chromium
    chromium.close()
    release_playwright()
