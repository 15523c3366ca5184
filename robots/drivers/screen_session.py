"""What terminal actions work with, whatever the screen comes from: ``ScreenSession``.

Two kinds: ``robots.drivers.terminal_session.TerminalSession`` (a program in a pseudo-terminal,
read by pyte) and ``robots.drivers.tn3270_session.Tn3270Session`` (a TN3270 host through
Debian's s3270). Both give the screen as rows of text; reading, finding and the value beside a
label are the same for both and live here.
"""

from __future__ import annotations

import re
from typing import Any

from robots.drivers.systems import LoginRunner
from robots.errors import SystemException
from robots.language.model import SystemSpec
from robots.masking import page_quote


def text_pattern(text: str) -> re.Pattern[str]:
    """A text to look for on screen: literal, or ``re:`` and a regular expression."""
    if text.startswith("re:"):
        return re.compile(text[3:])
    return re.compile(re.escape(text))


class ScreenSession:
    """What terminal actions work with: a character screen read as text, its cursor, and keys.

    Two kinds: ``TerminalSession`` (a program in a pseudo-terminal, read by pyte) and
    ``robots.drivers.tn3270_session.Tn3270Session`` (a TN3270 host through Debian's s3270).
    """

    system: str
    spec: SystemSpec
    case_id: str | None
    relogin: LoginRunner | None

    def lines(self) -> list[str]:
        """The screen's rows as text (each ``columns`` characters wide)."""
        raise NotImplementedError

    def cursor(self) -> tuple[int, int]:
        """The cursor's (row, column), 1-based as hosts count."""
        raise NotImplementedError

    def wait_until(self, predicate: Any, timeout: float) -> bool:
        """Wait until ``predicate()`` holds (False after ``timeout`` seconds)."""
        raise NotImplementedError

    def settle(self, timeout: float) -> None:
        """Wait until the program takes keys; a ``SystemException`` after ``timeout`` seconds."""
        raise NotImplementedError

    def send(self, data: str) -> None:
        """Type text."""
        raise NotImplementedError

    def key_code(self, name: str) -> str:
        """What ``send_key`` sends for a key name; a ``SystemException`` for an unknown key."""
        raise NotImplementedError

    def send_key(self, code: str) -> None:
        """Press a key given by its ``key_code``."""
        raise NotImplementedError

    def press(self, name: str) -> None:
        """Press a named key (``enter``, ``tab``, ``f5``...)."""
        self.send_key(self.key_code(name))

    def stop(self) -> None:
        """End the program or the connection."""
        raise NotImplementedError

    def ended(self) -> bool:
        """Has the program ended (or the host closed the connection)?"""
        raise NotImplementedError

    def exit_description(self) -> str:
        """How it ended, for messages."""
        raise NotImplementedError

    def wait_for_first_screen(self, timeout: float) -> None:
        """Wait until the first screen is there and takes keys (before the login types)."""
        raise NotImplementedError

    def heading(self) -> str:
        """The screen's first line with text, at most 80 characters, quoted as application text
        (``page_quote``: kept from the logs): which screen is up (a host's screen id and title),
        for an error, without its fields."""
        first = next((line.strip() for line in self.lines() if line.strip()), "")
        return page_quote(first, 80)

    def text(self) -> str:
        """The whole screen, rows joined by newlines, trailing spaces removed."""
        return "\n".join(line.rstrip() for line in self.lines())

    def read(self, row: int, column: int = 1, length: int | None = None) -> str:
        """The text at ``row``/``column`` (1-based), ``length`` characters (default: to the row's end)."""
        lines = self.lines()
        if not 1 <= row <= len(lines):
            raise SystemException(f"row {row} is off the screen (rows 1..{len(lines)})")
        line = lines[row - 1]
        if not 1 <= column <= len(line):
            raise SystemException(f"column {column} is off the screen (columns 1..{len(line)})")
        end = len(line) if length is None else column - 1 + length
        return line[column - 1 : end]

    def find(self, text: str, row: int | None = None) -> tuple[int, int, str] | None:
        """Where ``text`` (or ``re:`` regex) is on screen: (row, column, what matched), 1-based."""
        pattern = text_pattern(text)
        for number, line in enumerate(self.lines(), start=1):
            if row is not None and number != row:
                continue
            found = pattern.search(line)
            if found:
                return number, found.start() + 1, found.group(0)
        return None

    def beside(self, label: str, length: int | None = None) -> tuple[int, int, str]:
        """The value to the right of a label on its row: after the label and its dots, colons and
        spaces; ``length`` characters, or up to two spaces in a row or the end of the row."""
        found = self.find(label)
        if found is None:
            raise SystemException(f"the label {label!r} is not on the screen")
        row, column, matched = found
        line = self.lines()[row - 1]
        start = column - 1 + len(matched)
        while start < len(line) and line[start] in " .:=>":
            # '. . :' leaders and separators belong to the label, not the value
            start += 1
        if length is not None:
            return row, start + 1, line[start : start + length]
        rest = line[start:]
        value = re.split(r" {2,}", rest, maxsplit=1)[0]
        return row, start + 1, value

    def looks_logged_out(self) -> bool:
        """Is the system's ``logged_out`` text on screen?"""
        return bool(self.spec.logged_out) and self.find(self.spec.logged_out or "") is not None
