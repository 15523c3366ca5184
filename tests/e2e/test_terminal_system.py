"""A terminal system: the demo host (curses, input locks, fixed fields, auto-skip) in a pty, read by pyte."""

from __future__ import annotations

import json
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from robots.drivers.systems import ByKind
from robots.drivers.terminal_session import TerminalSessions
from robots.engine.human_gateway import InMemoryHumans
from robots.engine.records import RunRecord
from robots.engine.runner import Engine
from robots.language.project import Project
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

SHIPPED = ROOT / "workflows"


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Project, TerminalSessions, Path]]:
    """A project with the shipped host workflow and its login; the host's data in ``data``."""
    data = tmp_path / "data"
    (tmp_path / "workflows" / "logins").mkdir(parents=True)
    shutil.copy(SHIPPED / "logins" / "host_login.yaml", tmp_path / "workflows" / "logins")
    shutil.copy(SHIPPED / "host_address_change.yaml", tmp_path / "workflows")
    monkeypatch.setenv("TANDEM_SECRET_TERMINAL_ROBOT_USERNAME", "ROBOT")
    monkeypatch.setenv("TANDEM_SECRET_TERMINAL_ROBOT_PASSWORD", "term-pw-9")
    monkeypatch.setenv("TANDEM_PYTHON", sys.executable)
    monkeypatch.setenv("TANDEM_DEMO_DATA", str(data))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("TANDEM_HOST_IDLE", "0")  # no sign-off for idle robots
    sessions = TerminalSessions()
    yield Project(tmp_path), sessions, data
    sessions.close()


def run(project: Project, sessions: TerminalSessions, inputs: dict[str, str]) -> RunRecord:
    engine = Engine(
        project,
        humans=InMemoryHumans(),
        systems=ByKind({"terminal": sessions}),
        artifacts_dir=project.root / "artifacts",
    )
    return engine.run("host_address_change", inputs, case_id=f"case-{uuid.uuid4().hex[:8]}")


def audit(data: Path, action: str) -> list[dict[str, object]]:
    path = data / "host.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [entry for entry in map(json.loads, lines) if entry["action"] == action]


NEW = {"customer_id": "C000002", "street": "Öhringer Straße 5", "postal_code": "74613", "city": "Öhringen"}


def test_read_before_change_type_fixed_fields_save_and_verify(
    host: tuple[Project, TerminalSessions, Path],
) -> None:
    project, sessions, data = host
    first = run(project, sessions, NEW)
    assert first.status == "done", first.error
    assert first.outputs["changed"] is True
    assert first.outputs["street_before"] == "Mönckebergstraße 7"
    (saved,) = audit(data, "address_changed")
    assert saved["after"] == {"street": "Öhringer Straße 5", "postal_code": "74613", "city": "Öhringen"}
    again = run(project, sessions, NEW)  # e.g. the same case once more after a crash
    assert again.status == "done", again.error
    assert again.outputs["changed"] is False
    assert len(audit(data, "address_changed")) == 1  # read before change: no second save
    assert len(audit(data, "login")) == 1  # the session was kept


def test_an_unknown_customer_is_a_business_exception_and_said_which_screen_came(
    host: tuple[Project, TerminalSessions, Path],
) -> None:
    project, sessions, _ = host
    record = run(project, sessions, {**NEW, "customer_id": "C999999"})
    assert record.status == "failed_business", record.error
    assert "C999999 is not on the host" in (record.error or "")


def test_a_value_longer_than_its_field_is_refused_before_typing(
    host: tuple[Project, TerminalSessions, Path],
) -> None:
    project, sessions, data = host
    path = project.root / "workflows" / "host_address_change.yaml"
    unchecked = path.read_text(encoding="utf-8").replace(", max_length: 30", "")  # the input lets it in
    path.write_text(unchecked, encoding="utf-8")
    record = run(project, sessions, {**NEW, "street": "Öhringer Straße 5, Hinterhaus links"})
    assert record.status == "failed_business", record.error
    assert "35 characters do not fit the field of 30" in (record.error or "")
    assert audit(data, "address_changed") == []


def test_an_expired_sign_on_is_noticed_and_the_robot_signs_on_again(
    host: tuple[Project, TerminalSessions, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, sessions, data = host
    monkeypatch.setenv(
        "TANDEM_HOST_IDLE", "10"
    )  # long enough that a loaded machine does not sign off mid-case
    assert run(project, sessions, NEW).status == "done"
    time.sleep(11)  # the host signs the idle robot off
    record = run(project, sessions, {**NEW, "city": "Öhringen-Ost"})
    assert record.status == "done", record.error
    assert len(audit(data, "login")) == 2
    assert audit(data, "address_changed")[-1]["after"]["city"] == "Öhringen-Ost"  # type: ignore[index]


def test_without_waiting_out_the_input_lock_lost_keys_are_caught_not_saved(
    host: tuple[Project, TerminalSessions, Path],
) -> None:
    project, sessions, data = host
    path = project.root / "workflows" / "host_address_change.yaml"
    hasty = path.read_text(encoding="utf-8").replace("input_locked: X SYSTEM", "settle_ms: 0")
    path.write_text(hasty, encoding="utf-8")
    record = run(project, sessions, NEW)
    assert record.status == "failed_system"
    assert "but the screen shows other characters there" in (
        record.error or ""
    )  # typed during the lock, and noticed
    assert audit(data, "address_changed") == []
    in_block = next(step for step in record.steps if step.kind == "in")
    (evidence, *_) = [Path(p) for p in in_block.artifacts if p.endswith("-screen.txt")]
    screen = evidence.read_text(encoding="utf-8")
    assert "TANDEM DEMO HOST" in screen and "(cursor at row" in screen  # the screen as text


@pytest.mark.skipif(not shutil.which("vim"), reason="needs vim")
def test_a_program_not_written_here_vim(tmp_path: Path) -> None:
    """Debian's vim in the pty: type umlauts in insert mode, read them off the screen, save."""
    target = tmp_path / "note.txt"
    (tmp_path / "workflows").mkdir()
    workflow = f"""
name: vim_note
systems:
  vim: {{kind: terminal, program: "vim -u NONE -N -n {target}", rows: 24, columns: 80, settle_ms: 100}}
steps:
  - in: vim
    steps:
      - terminal.wait_for: {{text: "re:^~", timeout: 10}}
      - terminal.key: i
      - terminal.wait_for: {{text: "-- INSERT --", row: 24}}
      - terminal.type: "Öhringer Straße 5, 74613 Öhringen"
      - terminal.key: esc
      - terminal.wait_for: {{gone: "-- INSERT --"}}
      - terminal.read: {{row: 1}}
        as: first_row
      - terminal.cursor:
        as: cursor
      - terminal.type: {{text: ":wq", enter: true, verify: false}}  # echoed on the last row
outputs:
  first_row: "{{{{ first_row }}}}"
  column: "{{{{ cursor.column }}}}"
"""
    (tmp_path / "workflows" / "vim_note.yaml").write_text(workflow, encoding="utf-8")
    sessions = TerminalSessions()
    try:
        engine = Engine(
            Project(tmp_path),
            humans=InMemoryHumans(),
            systems=ByKind({"terminal": sessions}),
            artifacts_dir=tmp_path / "artifacts",
        )
        record = engine.run("vim_note", {}, case_id="vim-1")
        assert record.status == "done", record.error
        assert record.outputs["first_row"] == "Öhringer Straße 5, 74613 Öhringen"
        assert record.outputs["column"] == 33  # on the last character, after Esc
        deadline = time.monotonic() + 5
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert target.read_text(encoding="utf-8") == "Öhringer Straße 5, 74613 Öhringen\n"
    finally:
        sessions.close()


def test_a_sign_off_in_the_middle_of_a_case_fails_at_once_not_after_the_timeout(
    host: tuple[Project, TerminalSessions, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, sessions, _ = host
    monkeypatch.setenv("TANDEM_HOST_IDLE", "1")
    dawdling = """
name: dawdle
systems:
  host:
    kind: terminal
    program: "${TANDEM_PYTHON} -m demo.host --data-dir ${TANDEM_DEMO_DATA} --idle-seconds 1"
    login: host_login
    credentials: terminal_robot
    logged_out: PLEASE SIGN ON
    input_locked: X SYSTEM
steps:
  - in: host
    steps:
      - terminal.wait_for: KSM001
      - core.sleep: 2s
      - terminal.wait_for: {text: KSM010, timeout: 60}
"""
    (project.root / "workflows" / "dawdle.yaml").write_text(dawdling, encoding="utf-8")
    engine = Engine(
        project,
        humans=InMemoryHumans(),
        systems=ByKind({"terminal": sessions}),
        artifacts_dir=project.root / "a",
    )
    started = time.monotonic()
    record = engine.run("dawdle", {}, case_id="dawdle-1")
    assert record.status == "failed_system"
    assert "signed the robot off ('PLEASE SIGN ON' is on the screen)" in (record.error or "")
    assert time.monotonic() - started < 30  # not the 60 s timeout
