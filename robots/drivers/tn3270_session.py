"""TN3270 hosts behind the terminal actions, through Debian's ``s3270`` (apt-get install s3270).

A terminal system with ``tn3270: host:port`` starts one ``s3270`` per robot and system and
talks to it with s3270's script protocol on its standard input and output: a command per
line (``Connect(host)``, ``String("text")``, ``Enter``, ``PF(5)``, ``Ascii()``...), answered
by ``data:`` lines, a status line and ``ok`` or ``error``. The screen is read with
``Ascii()`` (rows of exactly ``columns`` characters, field attributes shown as spaces); the
status line gives the cursor and the keyboard lock of the host's operator information area,
so the robot waits for the host's own unlock instead of a still screen (``settle_ms`` does
not apply). When the robot dies, s3270 reads the end of its input and ends the connection.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import time
from typing import Any

from loguru import logger

from robots.drivers.screen_session import ScreenSession, text_pattern
from robots.drivers.systems import LoginRunner
from robots.errors import SystemException
from robots.language import expressions
from robots.language.model import SystemSpec

MODELS = {(24, 80): "2", (32, 80): "3", (43, 80): "4", (27, 132): "5"}
"""3270 models by (rows, columns)."""

KEYS: dict[str, str] = {
    "enter": "Enter",
    "tab": "Tab",
    "backtab": "BackTab",
    "shift+tab": "BackTab",
    "clear": "Clear",
    "esc": "Reset",
    "reset": "Reset",
    "home": "Home",
    "end": "FieldEnd",
    "delete": "Delete",
    "backspace": "BackSpace",
    "insert": "ToggleInsert",
    "eraseeof": "EraseEOF",
    "erase_eof": "EraseEOF",
    "newline": "Newline",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "attn": "Attn",
    "sysreq": "SysReq",
    **{f"pa{n}": f"PA({n})" for n in (1, 2, 3)},
    **{f"pf{n}": f"PF({n})" for n in range(1, 25)},
    **{f"f{n}": f"PF({n})" for n in range(1, 13)},
    **{f"shift+f{n}": f"PF({n + 12})" for n in range(1, 13)},
}
"""s3270 actions for the key names of ``terminal.key`` (F1-F12 are PF1-PF12)."""


def quoted(text: str) -> str:
    """``text`` as an s3270 string argument (backslashes and quotes escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Tn3270Session(ScreenSession):
    """One s3270 process connected to a TN3270 host."""

    def __init__(self, system: str, spec: SystemSpec, process: subprocess.Popen[bytes]) -> None:
        self.system = system
        self.spec = spec
        self.process = process
        self.case_id: str | None = None
        self.relogin: LoginRunner | None = None
        self.status: list[str] = []
        self.changes = 0
        self._lines: list[str] = []
        self._buffer = b""
        self.connected = False

    # -- the script protocol ---------------------------------------------------------------------

    def command(self, line: str, timeout: float = 30.0) -> list[str]:
        """Run one s3270 action; its ``data:`` lines. A ``SystemException`` when it fails."""
        if self.process.poll() is not None or self.process.stdin is None:
            raise SystemException(f"{self.system}: s3270 has ended ({self.exit_description()})")
        try:
            self.process.stdin.write(line.encode("utf-8") + b"\n")
            self.process.stdin.flush()
        except OSError as error:
            raise SystemException(f"{self.system}: s3270 takes no commands ({error})") from None
        deadline = time.monotonic() + timeout
        data: list[str] = []
        previous = ""
        while True:
            answer = self._next_line(deadline, line)
            if answer.startswith("data: ") or answer == "data:":
                data.append(answer[6:])
            elif answer in ("ok", "error"):
                self.status = previous.split()
                if answer == "error":
                    what = "; ".join(d.strip() for d in data) or "no reason given"
                    raise SystemException(
                        f"{self.system}: the 3270 action {line.split('(')[0]} failed: {what}"
                    )
                return data
            previous = answer

    def _next_line(self, deadline: float, line: str) -> str:
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()  # its answer may still come: the protocol is out of step now
                raise SystemException(f"{self.system}: s3270 did not answer {line!r} in time")
            ready, _, _ = select.select([descriptor], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(descriptor, 65536)
            if not chunk:
                raise SystemException(f"{self.system}: s3270 has ended ({self.exit_description()})")
            self._buffer += chunk
        answer, self._buffer = self._buffer.split(b"\n", 1)
        return answer.decode("utf-8", errors="replace").rstrip("\r")

    # -- the screen ------------------------------------------------------------------------------

    def lines(self) -> list[str]:
        rows = [row.ljust(self.spec.columns)[: self.spec.columns] for row in self.command("Ascii()")]
        if rows != self._lines:
            self._lines = rows
            self.changes += 1
        return list(rows)

    def cursor(self) -> tuple[int, int]:
        self.command("Query(Cursor)")
        if len(self.status) < 10:
            raise SystemException(f"{self.system}: s3270 gave no cursor position ({' '.join(self.status)!r})")
        return int(self.status[8]) + 1, int(self.status[9]) + 1

    def keyboard(self) -> str:
        """The keyboard state of the status line: U unlocked, L locked, E operator error."""
        return self.status[0] if self.status else "L"

    def ended(self) -> bool:
        if self.process.poll() is not None:
            return True
        return self.connected and len(self.status) > 3 and self.status[3] == "N"

    def exit_description(self) -> str:
        code = self.process.poll()
        if code is not None:
            return f"s3270 exit code {code}"
        return "the host closed the connection" if self.ended() else "still connected"

    def wait_until(self, predicate: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if self.ended():
                raise SystemException(f"{self.system}: {self.exit_description()}")
            if time.monotonic() >= deadline:
                return bool(predicate())
            time.sleep(0.05)

    def settle(self, timeout: float) -> None:
        """Wait until the host unlocks the keyboard (and the ``input_locked`` text is gone)."""
        locked = text_pattern(self.spec.input_locked) if self.spec.input_locked else None

        def ready() -> bool:
            rows = self.lines()
            if self.keyboard() == "E":
                raise SystemException(
                    f"{self.system}: the keyboard is locked by an operator error (a key the field "
                    f"does not take) on the screen whose first line reads {self.heading()}"
                )
            return self.keyboard() == "U" and not (locked and any(locked.search(r) for r in rows))

        if not self.wait_until(ready, timeout):
            raise SystemException(
                f"{self.system} takes no keys: the host keeps the keyboard locked after {timeout:g}s"
            )

    # -- keys ------------------------------------------------------------------------------------

    def send(self, data: str) -> None:
        for part in data.split("\n"):  # a newline in the text is no key here: typed as nothing
            if part:
                self.command(f"String({quoted(part)})")

    def key_code(self, name: str) -> str:
        key = name.strip().lower().replace(" ", "")
        if key in KEYS:
            return KEYS[key]
        if len(name) == 1:
            return f"String({quoted(name)})"
        raise SystemException(
            f"unknown 3270 key {name!r}: use enter, tab, backtab, clear, reset, home, end, delete, "
            "backspace, insert, eraseeof, newline, up, down, left, right, attn, sysreq, pa1..pa3, "
            "pf1..pf24 (f1..f12, shift+f1..f12)"
        )

    def send_key(self, code: str) -> None:
        self.command(code)

    def wait_for_first_screen(self, timeout: float) -> None:
        self.command(f"Wait({max(1, round(timeout))},InputField)", timeout=timeout + 5)
        self.settle(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self.process.stdin is not None
                self.process.stdin.write(b"Quit\n")
                self.process.stdin.flush()
                self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        with contextlib.suppress(OSError, ValueError):
            if self.process.stdout is not None:
                self.process.stdout.close()


def connect(name: str, spec: SystemSpec, timeout: float) -> Tn3270Session:
    """Start s3270 and connect it to the system's ``tn3270`` host."""
    executable = shutil.which("s3270")
    if executable is None:
        raise SystemException(
            f"system {name!r} is a TN3270 host: it needs Debian's s3270 (apt-get install s3270)"
        )
    model = MODELS.get((spec.rows, spec.columns))
    if model is None:
        sizes = ", ".join(f"{r}x{c}" for r, c in MODELS)
        raise SystemException(
            f"system {name!r}: a 3270 screen is {sizes} (rows x columns), not {spec.rows}x{spec.columns}"
        )
    host = expressions.resolve_env(spec.tn3270 or "", where=f"system {name} (tn3270)")
    command = [executable, "-utf8", "-model", f"3279-{model}"]
    if spec.code_page:
        command += ["-codepage", spec.code_page]
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as error:
        raise SystemException(f"cannot start s3270 for {name!r}: {error}") from None
    session = Tn3270Session(name, spec, process)
    try:
        if spec.code_page:
            # s3270 takes an unknown code page with a warning and uses its default, 'bracket'.
            answer = " ".join(session.command("Query(CodePage)"))
            if answer.startswith("bracket") and spec.code_page.lower() not in (
                "bracket",
                "oldibm",
                "bracket437",
            ):
                raise SystemException(
                    f"s3270 does not know the code page {spec.code_page!r} (it took: {answer}); "
                    "'s3270 -v' lists them, e.g. 1141 (german-euro), 273 (german), 037 (us)"
                )
        session.command(f"Connect({host})", timeout=timeout)
        session.connected = True
        logger.info("{}: connected to the TN3270 host {} (model {})", name, host, model)
    except SystemException as error:
        session.stop()
        raise SystemException(f"system {name!r}: cannot connect to the TN3270 host {host}: {error}") from None
    return session
