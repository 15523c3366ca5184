"""A TN3270 host behind the terminal actions: Debian's s3270 connected to a real TN3270 server
(mainframe-mocker's demo host, from PyPI, in a virtualenv of its own made by scripts/setup.sh:
it needs Python 3.12). Sign-on, transactions, a check-change-verify on the host's guest book,
the host's own keyboard lock, umlauts through the EBCDIC code page, a host error message."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.server import free_port
from robots.drivers.systems import ByKind
from robots.drivers.terminal_session import TerminalSessions
from robots.engine.human_gateway import InMemoryHumans
from robots.engine.records import RunRecord
from robots.engine.runner import Engine
from robots.language.project import Project
from tests.conftest import ROOT

MFMOCK = ROOT / ".venv-tn3270" / "bin" / "mfmock"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not shutil.which("s3270"), reason="needs s3270 (apt-get install s3270)"),
    pytest.mark.skipif(
        not MFMOCK.exists(), reason="needs the TN3270 test host (scripts/setup.sh, Python 3.12)"
    ),
]

LOGIN = """\
name: mfmock_login
runs_in: terminal
input:
  credentials: {type: string}
steps:
  - terminal.wait_for: SIGN ON
  - terminal.type: {text: "{{ secret(input.credentials ~ '.username') }}", length: 8, next_field: true}
  - terminal.type: {text: "{{ secret(input.credentials ~ '.password') }}", secret: true, enter: true}
  - terminal.wait_for: {any: [MAIN MENU, "re:DEM0[0-9]+E"]}
    as: signed_on
  - fail: {message: "the host refused the robot's sign-on", kind: system}
    when: "{{ signed_on.index == 1 }}"
"""

GUEST_BOOK = """\
name: guest_book
input:
  name: {type: string, max_length: 30}
systems:
  host:
    kind: terminal
    tn3270: "127.0.0.1:${MFMOCK_PORT}"
    login: mfmock_login
    credentials: mfmock
    logged_out: SIGN ON
steps:
  - in: host
    retry: {attempts: 2, backoff: 1s}
    steps:
      - ensure: the guest book lists the name
        check:
          - terminal.key: home                               # the TRAN field, on every screen
          - terminal.type: {text: LIST, length: 4, pad: true, enter: true}
          - terminal.wait_for: GUEST BOOK
          - terminal.exists: "  {{ input.name | upper }}"
            as: listed
        holds: "{{ listed }}"
        change:
          - terminal.key: home
          - terminal.type: {text: HELO, length: 4, pad: true, enter: true}
          - terminal.wait_for: GREETING
          - terminal.type: {text: "{{ input.name }}", length: 30, enter: true}
          - terminal.wait_for: {any: [DEM0102I, "re:DEM0[0-9]+E.*"], row: 23}
            as: answer
          - fail: "the host refused the name: {{ answer.found }}"
            when: "{{ answer.index == 1 }}"
          - terminal.read: {row: 23}
            as: message
        as: greeted
outputs:
  changed: "{{ greeted.changed }}"
  message: "{{ message | default('') }}"
"""


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Project, TerminalSessions]]:
    port = free_port()
    server = subprocess.Popen(
        [str(MFMOCK), "demo", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "the TN3270 host did not start"
            time.sleep(0.1)
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "mfmock_login.yaml").write_text(LOGIN, encoding="utf-8")
    (tmp_path / "workflows" / "guest_book.yaml").write_text(GUEST_BOOK, encoding="utf-8")
    monkeypatch.setenv("MFMOCK_PORT", str(port))
    monkeypatch.setenv("TANDEM_SECRET_MFMOCK_USERNAME", "DEMO")
    monkeypatch.setenv("TANDEM_SECRET_MFMOCK_PASSWORD", "DEMO")
    sessions = TerminalSessions()
    yield Project(tmp_path), sessions
    sessions.close()
    server.terminate()
    server.wait(timeout=10)


def run(project: Project, sessions: TerminalSessions, name: str) -> RunRecord:
    engine = Engine(
        project,
        humans=InMemoryHumans(),
        systems=ByKind({"terminal": sessions}),
        artifacts_dir=project.root / "artifacts",
    )
    return engine.run("guest_book", {"name": name}, case_id=f"case-{uuid.uuid4().hex[:8]}")


def test_a_tn3270_host_is_read_changed_once_and_verified_through_s3270(
    host: tuple[Project, TerminalSessions],
) -> None:
    project, sessions = host
    first = run(project, sessions, "Jürgen Öztürk")
    assert first.status == "done", first.error
    assert first.outputs["changed"] is True
    assert first.outputs["message"].strip() == "DEM0102I HELLO JÜRGEN ÖZTÜRK, NICE TO MEET YOU"
    again = run(project, sessions, "Jürgen Öztürk")  # the same case once more: found, not greeted again
    assert again.status == "done", again.error
    assert again.outputs["changed"] is False
    other = run(project, sessions, "Zoë Ølberg")
    assert other.status == "done", other.error
    session = sessions._sessions["host"]
    book = session.text()
    assert "  1  JÜRGEN ÖZTÜRK" in book and "  2  ZOË ØLBERG" in book, book
    assert "  3  " not in book  # nobody greeted twice


def test_a_host_error_message_fails_the_case_with_the_hosts_words(
    host: tuple[Project, TerminalSessions],
) -> None:
    project, sessions = host
    record = run(project, sessions, "root")  # a reserved name: the host says no
    assert record.status == "failed_business", record.error
    assert "the host refused the name: DEM0" in (record.error or "")
    assert "ROOT" in (record.error or "")  # the host's own message, whole


def test_an_unknown_code_page_is_refused_before_connecting(host: tuple[Project, TerminalSessions]) -> None:
    project, sessions = host
    path = project.root / "workflows" / "guest_book.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("    logged_out: SIGN ON\n", "    code_page: klingon\n"),
        encoding="utf-8",
    )
    record = run(project, sessions, "Jürgen Öztürk")
    assert record.status == "failed_system"
    assert "s3270 does not know the code page 'klingon'" in (record.error or "")
