"""Terminal sessions: a character program in a pseudo-terminal, its screen kept by pyte.

A ``terminal`` system's ``program`` (``ssh -tt robot@host``, ``telnet host``, a local program)
runs in a pseudo-terminal of ``rows`` x ``columns`` with ``TERM=xterm``; everything it writes
goes through the pyte terminal emulator, so the robot reads the exact screen text by row and
column, knows the cursor, and needs no X display, no OCR and no images. Keys are sent as an
xterm sends them (F5 = ``ESC [ 15 ~``).

Input locks: a host takes no keys while it works (3270: the ``X SYSTEM`` indicator; keys typed
meanwhile are lost). Before every key the robot waits until the screen has not changed for the
system's ``settle_ms`` and its ``input_locked`` text is not on screen.

Sessions are kept across cases like a clerk's terminal; the ``login`` sub-workflow runs when the
program starts and again when the system's ``logged_out`` text is on screen.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from robots.drivers.screen_session import ScreenSession, text_pattern
from robots.drivers.systems import LoginRunner, SystemSessions
from robots.errors import SystemException
from robots.language import expressions
from robots.language.model import SystemSpec

KEYS: dict[str, str] = {
    "enter": "\r",
    "return": "\r",
    "tab": "\t",
    "backtab": "\x1b[Z",
    "shift+tab": "\x1b[Z",
    "escape": "\x1b",
    "esc": "\x1b",
    "backspace": "\x7f",
    "delete": "\x1b[3~",
    "insert": "\x1b[2~",
    "home": "\x1b[H",
    "end": "\x1b[F",
    "pageup": "\x1b[5~",
    "pagedown": "\x1b[6~",
    "up": "\x1b[A",
    "down": "\x1b[B",
    "right": "\x1b[C",
    "left": "\x1b[D",
    "space": " ",
    "f1": "\x1bOP",
    "f2": "\x1bOQ",
    "f3": "\x1bOR",
    "f4": "\x1bOS",
    "f5": "\x1b[15~",
    "f6": "\x1b[17~",
    "f7": "\x1b[18~",
    "f8": "\x1b[19~",
    "f9": "\x1b[20~",
    "f10": "\x1b[21~",
    "f11": "\x1b[23~",
    "f12": "\x1b[24~",
    # xterm's Shift+F1..F12, which terminal emulators of hosts map to PF13..PF24
    **{
        f"shift+f{n}": f"\x1b[{code};2{final}"
        for n, code, final in ((1, 1, "P"), (2, 1, "Q"), (3, 1, "R"), (4, 1, "S"))
    },
    **{
        f"shift+f{n}": f"\x1b[{code};2~"
        for n, code in ((5, 15), (6, 17), (7, 18), (8, 19), (9, 20), (10, 21), (11, 23), (12, 24))
    },
}
"""What xterm sends for each named key (the program sees ``TERM=xterm``)."""

REACTION_SECONDS = 1.0
"""How long a program may take to show that it read keys (echo, lock indicator, new screen)
before the robot takes the unchanged screen as settled (F3 on a first screen changes nothing)."""

for _n in range(1, 13):  # PF1..PF12 are F1..F12; PF13..PF24 are Shift+F1..F12
    KEYS[f"pf{_n}"] = KEYS[f"f{_n}"]
    KEYS[f"pf{_n + 12}"] = KEYS[f"shift+f{_n}"]


def key_bytes(name: str) -> str:
    """What to send for a key name: ``enter``, ``F5``, ``PF3``, ``ctrl+c``, ``shift+tab``, one character."""
    key = name.strip().lower().replace(" ", "")
    if key in KEYS:
        return KEYS[key]
    if key.startswith(("ctrl+", "control+")) and len(key.split("+", 1)[1]) == 1:
        letter = key.split("+", 1)[1]
        if "a" <= letter <= "z" or letter in "[\\]^_":
            return chr(ord(letter.upper()) & 0x1F)
    if len(name) == 1:
        return name
    raise SystemException(
        f"unknown terminal key {name!r}: use enter, tab, backtab, esc, backspace, delete, insert, home, "
        "end, pageup, pagedown, up, down, left, right, f1..f12, shift+f1..f12, pf1..pf24, ctrl+<letter>"
    )


@dataclass
class TerminalSession(ScreenSession):
    """A program in a pseudo-terminal and the screen the emulator keeps of it."""

    system: str
    spec: SystemSpec
    process: subprocess.Popen[bytes]
    master: int
    screen: Any
    stream: Any
    case_id: str | None = None
    relogin: LoginRunner | None = None
    changed_at: float = field(default_factory=time.monotonic)
    changes: int = 0
    lock: threading.Condition = field(default_factory=threading.Condition)
    reader: threading.Thread | None = None
    closed: bool = False
    sent_at: float = 0.0
    changes_at_send: int = 0

    # -- reading the screen ------------------------------------------------------------------

    def lines(self) -> list[str]:
        """The screen's rows as text (each ``columns`` characters wide)."""
        with self.lock:
            return list(self.screen.display)

    def cursor(self) -> tuple[int, int]:
        """The cursor's (row, column), 1-based as hosts count."""
        with self.lock:
            return self.screen.cursor.y + 1, self.screen.cursor.x + 1

    # -- waiting ---------------------------------------------------------------------------------

    def wait_until(self, predicate: Any, timeout: float) -> bool:
        """Wait until ``predicate()`` holds, re-checking whenever the screen changes."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            with self.lock:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return bool(predicate())
                if self.closed:
                    raise SystemException(f"{self.system}: the program ended ({self.exit_description()})")
                self.lock.wait(min(remaining, 0.05))

    def settle(self, timeout: float) -> None:
        """Wait out an input lock: the screen unchanged for ``settle_ms`` and no ``input_locked``
        text on it; a ``SystemException`` after ``timeout`` seconds."""
        quiet = self.spec.settle_ms / 1000
        locked = text_pattern(self.spec.input_locked) if self.spec.input_locked else None

        def ready() -> bool:
            now = time.monotonic()
            if self.changes == self.changes_at_send and now - self.sent_at < REACTION_SECONDS:
                # Nothing drawn since the last keys: the program may not have read them yet
                # (a busy machine), and its lock indicator would come later.
                return False
            if now - self.changed_at < quiet:
                return False
            return locked is None or not any(locked.search(line) for line in self.lines())

        if not self.wait_until(ready, timeout):
            state = "shows " + repr(self.spec.input_locked) if locked and not ready() else "keeps changing"
            raise SystemException(
                f"{self.system} takes no keys: its screen {state} after {timeout:g}s (input locked)"
            )

    # -- sending ---------------------------------------------------------------------------------

    def send(self, data: str) -> None:
        """Write keys to the program."""
        if self.process.poll() is not None:
            raise SystemException(f"{self.system}: the program ended ({self.exit_description()})")
        encoded = data.encode("utf-8")
        with self.lock:
            self.sent_at, self.changes_at_send = time.monotonic(), self.changes
        while encoded:
            written = os.write(self.master, encoded)
            encoded = encoded[written:]

    def key_code(self, name: str) -> str:
        return key_bytes(name)

    def send_key(self, code: str) -> None:
        self.send(code)

    def stop(self) -> None:
        stop_program(self)

    def ended(self) -> bool:
        return self.process.poll() is not None

    def wait_for_first_screen(self, timeout: float) -> None:
        self.wait_until(lambda: self.changes > 0, timeout)
        self.settle(timeout)

    def exit_description(self) -> str:
        code = self.process.poll()
        return "still running" if code is None else f"exit code {code}"

    # -- the reader ------------------------------------------------------------------------------

    def _read_forever(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                chunk = b""
            with self.lock:
                if not chunk:
                    self.closed = True
                    self.lock.notify_all()
                    return
                try:
                    self.stream.feed(chunk)
                except Exception as error:  # an escape sequence pyte cannot take: go on reading
                    logger.debug(
                        "{}: the terminal emulator skipped output it cannot take: {}", self.system, error
                    )
                    self.stream = type(self.stream)(self.screen)
                self.changed_at = time.monotonic()
                self.changes += 1
                self.lock.notify_all()


def _take_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def start_program(name: str, spec: SystemSpec, folder: Path | None = None) -> TerminalSession:
    """Start the system's program in a new pseudo-terminal with an emulator reading it, in
    ``folder`` (the project folder: relative paths in its command line are the project's)."""
    import pyte

    if not spec.program:
        raise SystemException(f"terminal system {name!r} has no 'program' (e.g. 'ssh -tt robot@host')")
    command = expressions.resolve_env(spec.program, where=f"system {name} (program)")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", spec.rows, spec.columns, 0, 0))
    env = {**os.environ, "TERM": "xterm", "LINES": str(spec.rows), "COLUMNS": str(spec.columns)}
    env.setdefault("LANG", "C.UTF-8")
    # The emulator reads UTF-8 and, as xterm does in UTF-8, ignores the switch to the line-drawing
    # character set: curses programs are told to draw their boxes with Unicode lines instead
    # (else a border reads 'lqqqk' and a screen's text holds letters it does not show).
    env.setdefault("NCURSES_NO_UTF8_ACS", "1")
    try:
        process = subprocess.Popen(
            shlex.split(command),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=folder,
            start_new_session=True,
            # The pty becomes the program's controlling terminal (after setsid): Ctrl+C is a
            # SIGINT, and when the robot dies and the pty closes, the program gets SIGHUP
            # instead of running on, an orphan, for ever.
            preexec_fn=_take_terminal,  # one ioctl: safe in the forked child
            close_fds=True,
        )
    except OSError as error:
        os.close(master)
        os.close(slave)
        raise SystemException(f"cannot start {name!r} ({command}): {error}") from None
    os.close(slave)

    class AnsweringScreen(pyte.Screen):
        """A screen that answers the program's questions (device attributes, cursor
        position) as a real terminal does; programs such as vim wait for the answer."""

        def write_process_input(self, data: str) -> None:
            with contextlib.suppress(OSError):
                os.write(master, data.encode())

        def select_graphic_rendition(self, *attrs: int, private: bool = False) -> None:
            # 'CSI > 4;2 m' (xterm's modifyOtherKeys, sent by vim) is no rendition: pyte 0.8
            # passes it here with private=True and would crash.
            if not private:
                super().select_graphic_rendition(*attrs)

    screen = AnsweringScreen(spec.columns, spec.rows)
    session = TerminalSession(name, spec, process, master, screen, pyte.ByteStream(screen))
    session.reader = threading.Thread(target=session._read_forever, name=f"terminal-{name}", daemon=True)
    session.reader.start()
    return session


def stop_program(session: TerminalSession) -> None:
    """End the program (its whole process group) and close the pseudo-terminal."""
    process = session.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    with contextlib.suppress(OSError):
        os.close(session.master)
    if session.reader is not None:
        session.reader.join(timeout=2)


class TerminalSessions(SystemSessions):
    """The terminal session provider of one robot: one pseudo-terminal (or, for a ``tn3270``
    system, one s3270 connection) per system."""

    def __init__(self, *, start_timeout: float = 20.0) -> None:
        self._sessions: dict[str, ScreenSession] = {}
        self.start_timeout = start_timeout

    @contextlib.contextmanager
    def session(
        self,
        name: str,
        spec: SystemSpec,
        *,
        login: LoginRunner | None,
        case_id: str,
        project_root: Path | None = None,
    ) -> Iterator[Any]:
        session = self._sessions.get(name)
        if session is not None and session.ended():
            logger.warning("{} has ended ({}): starting it again", name, session.exit_description())
            self.discard(name)
            session = None
        if session is None:
            if spec.tn3270:
                from robots.drivers.tn3270_session import connect

                session = connect(name, spec, self.start_timeout)
            else:
                session = start_program(name, spec, project_root)
            self._sessions[name] = session
            # The first screen must be drawn before the login types into it.
            session.wait_for_first_screen(self.start_timeout)
            if login is not None:
                login(session)
            logger.info("started {} in a terminal ({}x{})", name, spec.columns, spec.rows)
        elif login is not None and session.looks_logged_out():
            logger.info("session of {} expired: logging in again", name)
            self.login_again(session, login)
        session.case_id = case_id
        session.relogin = login
        yield session

    @staticmethod
    def login_again(session: ScreenSession, login: LoginRunner | None = None) -> None:
        """Run the login once more in the same program (never recursively)."""
        login = login or session.relogin
        if login is None:
            return
        session.relogin = None
        try:
            login(session)
        finally:
            session.relogin = login

    def discard(self, name: str) -> None:
        session = self._sessions.pop(name, None)
        if session is not None:
            session.stop()

    def capture_failure(self, name: str, directory: Path) -> list[str]:
        session = self._sessions.get(name)
        if session is None:
            return []
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{name}-{time.strftime('%H%M%S')}-screen.txt"
        try:
            row, column = session.cursor()
            screen = f"{session.text()}\n\n(cursor at row {row}, column {column})\n"
            target.write_text(screen, encoding="utf-8")
        except Exception as error:  # evidence is best effort: the failure itself must go on
            # A session that cannot answer any more (its program ended, s3270 stopped after a
            # timeout) has no screen to keep; the failure's own error says why.
            logger.debug("{}: no screen to keep for the failure: {}", name, error)
            return []
        return [str(target)]

    def close(self) -> None:
        for name in list(self._sessions):
            self.discard(name)
