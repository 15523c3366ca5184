"""Logs never hold a password or a personal value, tracebacks included.

Each test seeds values, forces a failure (a wrong login, an unexpected error in the API, a
database error with parameters, a robot step that fails quoting personal input) and then
greps every log there is: the JSON log file, the console (stderr and stdout) and the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from loguru import logger

from orchestrator.service import Orchestrator
from orchestrator.worker.execution import run_claim
from robots.engine.runner import Engine
from robots.language.project import Project
from robots.logs import configure_logging
from tests.conftest import write

PASSWORD = "Sesam-Öffne-Dich-7731"
PERSONAL = "Erika Mustermann-4711"


@pytest.fixture
def logs(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Logging as run.py and the workers set it up (DEBUG, console and file); a function that
    returns everything written to the file, stderr and stdout so far."""
    path = configure_logging(level="DEBUG", log_dir=tmp_path / "logs", console=True)
    assert path is not None

    def everything() -> str:
        captured = capfd.readouterr()
        files = "".join(p.read_text(encoding="utf-8") for p in path.parent.glob("*"))
        return files + captured.err + captured.out

    yield everything
    logger.remove()
    logger.configure(patcher=None)
    logger.add(lambda message: None)


def _assert_clean(text: str, *values: str) -> None:
    for value in values:
        assert value not in text, f"{value!r} is in the log:\n{text[-3000:]}"


def test_a_failed_login_logs_no_password(client: TestClient, logs: Any) -> None:
    for username in ("admin", "nobody", PASSWORD, "admin\x00"):
        answer = client.post("/login", data={"username": username, "password": PASSWORD})
        assert answer.status_code in (401, 422, 429), answer.text
    text = logs()
    _assert_clean(text, PASSWORD)


def test_an_unexpected_api_error_logs_no_sql_parameters(
    client: TestClient, logs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store: Orchestrator = client.app.state.store  # type: ignore[attr-defined]

    def broken_timeline(case_id: str) -> Any:
        # A statement that fails in the database with a personal value as its parameter.
        with store.engine.connect() as connection:
            connection.execute(sa.text("SELECT * FROM no_such_table WHERE name = :name"), {"name": PERSONAL})

    monkeypatch.setattr(store, "case_timeline", broken_timeline)
    _, secret = store.create_token("leaky", ["*"])
    answer = client.get("/api/cases/c-1", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 500
    assert "internal error" in answer.json()["error"]
    text = logs()
    assert "no_such_table" in text, "the failure should be logged"
    _assert_clean(text + answer.text, PERSONAL, secret)


def test_a_database_error_never_quotes_its_parameters(client: TestClient) -> None:
    store: Orchestrator = client.app.state.store  # type: ignore[attr-defined]
    with pytest.raises(sa.exc.DBAPIError) as raised, store.engine.connect() as connection:
        connection.execute(sa.text("SELECT * FROM no_such_table WHERE name = :name"), {"name": PERSONAL})
    assert PERSONAL not in str(raised.value)


CRASHY = """
name: crashy
queue: exceptions
input:
  customer: {type: string, personal: true}
steps:
  - id: look_up
    set: {found: "{{ input.customer }}"}
  - id: crash
    fail: {message: "customer {{ input.customer }} is unknown", kind: system}
"""


def test_a_failing_robot_logs_no_personal_value(database_url: str, tmp_path: Path, logs: Any) -> None:
    write(tmp_path / "project" / "workflows" / "crashy.yaml", CRASHY)
    (tmp_path / "project" / "business_rules").mkdir()
    project = Project(tmp_path / "project")
    store = Orchestrator(database_url, project=project)
    try:
        store.create_case("crashy", f"crash-{tmp_path.name}", {"customer": PERSONAL})
        engine = Engine(project, humans=store.humans(), escalate_system_failures=False, robot="robot-sec")
        claim = store.claim_next_case("robot-sec", 60)
        assert claim is not None
        case = run_claim(store, engine, claim)
        assert case is not None
    finally:
        store.close()
    text = logs()
    assert "crash" in text, "the failure should be logged"
    _assert_clean(text, PERSONAL)
