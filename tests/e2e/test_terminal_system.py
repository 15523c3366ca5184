"""A terminal system: the demo host (curses, input locks, fixed fields, auto-skip) in a pty, read by pyte."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from robots.engine import Engine
from robots.humans import InMemoryHumans
from robots.project import Project
from robots.records import RunRecord
from robots.systems import ByKind
from robots.terminal import TerminalSessions
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

LOGIN = """
name: host_login
description: Sign on to the demo host.
runs_in: terminal
input:
  credentials: {type: string}
steps:
  - terminal.wait_for: KSS000
  - terminal.type: {text: "{{ secret(input.credentials ~ '.username') }}", length: 8, next_field: true}
  - terminal.type:
      {text: "{{ secret(input.credentials ~ '.password') }}", length: 10, secret: true, enter: true}
  - terminal.wait_for: {any: [KSM001, KSE001]}
    as: signed_on
  - fail: {message: "the host refused the robot's sign-on", kind: system}
    when: "{{ signed_on.text == 'KSE001' }}"
"""

ADDRESS = """
name: host_address
description: Change a customer's address on the demo host, read before change, verified after.
input:
  customer_id: {type: string}
  street: {type: string}
  postal_code: {type: string}
  city: {type: string}
systems:
  host:
    kind: terminal
    program: "PYTHON -m demo.host --data-dir DATA --idle-seconds IDLE --seed 7"
    login: host_login
    credentials: host_robot
    logged_out: PLEASE SIGN ON
    input_locked: X SYSTEM
steps:
  - in: host
    steps:
      - terminal.key: {keys: f3, times: 2}
      - terminal.wait_for: KSM001
      - terminal.type: {text: "1", length: 1, enter: true}
      - terminal.wait_for: KSM010
      - terminal.type: {text: "{{ input.customer_id }}", length: 7, enter: true}
      - terminal.wait_for: {any: [KSM020, KSE011]}
        as: found
      - fail: "customer {{ input.customer_id }} is not on the host"
        when: "{{ found.text == 'KSE011' }}"
      - terminal.read: {label: STREET, length: 30}
        as: street
      - terminal.read: {label: POSTAL CODE, length: 5}
        as: postal_code
      - terminal.read: {row: 8, column: 18, length: 25}
        as: city
      - if: "{{ [street, postal_code, city] != [input.street, input.postal_code, input.city] }}"
        then:
          - terminal.type: {text: "{{ input.street }}", length: 30, pad: true}
          - terminal.type: {text: "{{ input.postal_code }}", length: 5, pad: true}
          - terminal.type: {text: "{{ input.city }}", length: 25, pad: true}
          - terminal.key: f5
          - terminal.wait_for: {any: [KSI020, "re:KSE02[0-9]"], row: 23}
            as: saved
          - fail: "the host refused the address: {{ saved.text }}"
            when: "{{ saved.index == 1 }}"
          - set: {changed: true}
      - terminal.expect: {label: STREET, length: 30, equals: "{{ input.street }}"}
      - terminal.expect: {label: POSTAL CODE, length: 5, equals: "{{ input.postal_code }}"}
      - terminal.expect: {label: CITY, length: 25, equals: "{{ input.city }}"}
      - terminal.cursor:
        as: cursor
outputs:
  changed: "{{ changed | default(false) }}"
  street_before: "{{ street }}"
  cursor: "{{ cursor.row }},{{ cursor.column }}"
"""


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Project, TerminalSessions, Path]]:
    data = tmp_path / "data"
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "host_login.yaml").write_text(LOGIN, encoding="utf-8")
    monkeypatch.setenv("TANDEM_SECRET_HOST_ROBOT_USERNAME", "ROBOT")
    monkeypatch.setenv("TANDEM_SECRET_HOST_ROBOT_PASSWORD", "term-pw-9")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    sessions = TerminalSessions()
    yield Project(tmp_path), sessions, data
    sessions.close()


def write_flow(project: Project, data: Path, idle: float = 0) -> None:
    text = ADDRESS.replace("PYTHON", sys.executable).replace("DATA", str(data)).replace("IDLE", str(idle))
    (project.root / "workflows" / "host_address.yaml").write_text(textwrap.dedent(text), encoding="utf-8")


def run(project: Project, sessions: TerminalSessions, inputs: dict[str, str]) -> RunRecord:
    engine = Engine(
        project,
        humans=InMemoryHumans(),
        systems=ByKind({"terminal": sessions}),
        artifacts_dir=project.root / "artifacts",
    )
    return engine.run("host_address", inputs, case_id=f"case-{uuid.uuid4().hex[:8]}")


def audit(data: Path, action: str) -> list[dict[str, object]]:
    path = data / "host.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [entry for entry in map(json.loads, lines) if entry["action"] == action]


NEW = {"customer_id": "C000002", "street": "Öhringer Straße 5", "postal_code": "74613", "city": "Öhringen"}


def test_read_before_change_type_fixed_fields_save_and_verify(
    host: tuple[Project, TerminalSessions, Path],
) -> None:
    project, sessions, data = host
    write_flow(project, data)
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
    assert again.outputs["cursor"] == "6,18"  # the cursor in the STREET field (row 6, column 18)


def test_an_unknown_customer_is_a_business_exception_and_said_which_screen_came(
    host: tuple[Project, TerminalSessions, Path],
) -> None:
    project, sessions, data = host
    write_flow(project, data)
    record = run(project, sessions, {**NEW, "customer_id": "C999999"})
    assert record.status == "failed_business", record.error
    assert "C999999 is not on the host" in (record.error or "")


def test_a_value_longer_than_its_field_is_refused_before_typing(
    host: tuple[Project, TerminalSessions, Path],
) -> None:
    project, sessions, data = host
    write_flow(project, data)
    record = run(project, sessions, {**NEW, "postal_code": "746130"})
    assert record.status == "failed_business", record.error
    assert "6 characters do not fit the field of 5" in (record.error or "")
    assert audit(data, "address_changed") == []


def test_an_expired_sign_on_is_noticed_and_the_robot_signs_on_again(
    host: tuple[Project, TerminalSessions, Path],
) -> None:
    project, sessions, data = host
    write_flow(project, data, idle=2)
    assert run(project, sessions, NEW).status == "done"
    time.sleep(3)  # the host signs the idle robot off
    record = run(project, sessions, {**NEW, "city": "Öhringen-Ost"})
    assert record.status == "done", record.error
    assert len(audit(data, "login")) == 2
    assert audit(data, "address_changed")[-1]["after"]["city"] == "Öhringen-Ost"  # type: ignore[index]


def test_without_waiting_out_the_input_lock_lost_keys_are_caught_not_saved(
    host: tuple[Project, TerminalSessions, Path],
) -> None:
    project, sessions, data = host
    write_flow(project, data)
    path = project.root / "workflows" / "host_address.yaml"
    hasty = path.read_text(encoding="utf-8").replace("input_locked: X SYSTEM", "settle_ms: 0")
    path.write_text(hasty, encoding="utf-8")
    record = run(project, sessions, NEW)
    assert record.status == "failed_system"
    assert "but the screen shows" in (record.error or "")  # typed during the lock, and noticed
    assert audit(data, "address_changed") == []


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
