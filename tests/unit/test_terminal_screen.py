"""The terminal session's screen logic (pyte fed directly) and key names, without a program."""

from __future__ import annotations

import subprocess
import threading

import pyte
import pytest

from robots.drivers.keysyms import parse_keys
from robots.drivers.terminal_session import TerminalSession, key_bytes
from robots.errors import SystemException
from robots.language.model import SystemSpec


def session(*rows: str) -> TerminalSession:
    screen = pyte.Screen(80, 24)
    stream = pyte.ByteStream(screen)
    stream.feed("\r\n".join(rows).encode())
    spec = SystemSpec(kind="terminal", program="true")
    process = subprocess.Popen(["true"])
    process.wait()
    return TerminalSession("host", spec, process, -1, screen, stream, lock=threading.Condition())


SCREEN = (
    "KSM020  CUSTOMER ADDRESS",
    "",
    "  CUSTOMER NO. : C000002",
    "  STREET . . . : Mönckebergstraße 7____________",
    "  POSTAL CODE  : 20095",
    "  CITY . . . . : Hamburg                  F5=SAVE",
)


def test_reading_by_row_and_column_is_one_based() -> None:
    screen = session(*SCREEN)
    assert screen.read(1, 1, 6) == "KSM020"
    assert screen.read(4, 18, 18) == "Mönckebergstraße 7"
    with pytest.raises(SystemException, match="row 30 is off the screen"):
        screen.read(30)


def test_the_value_beside_a_label_skips_dot_leaders_and_stops_at_a_gap() -> None:
    screen = session(*SCREEN)
    assert screen.beside("CUSTOMER NO.")[2] == "C000002"
    assert screen.beside("STREET", 30)[2] == "Mönckebergstraße 7____________"
    assert screen.beside("CITY")[2] == "Hamburg"  # not 'Hamburg   F5=SAVE'
    assert screen.beside("POSTAL CODE", 5)[:2] == (5, 18)
    with pytest.raises(SystemException, match="the label 'PHONE' is not on the screen"):
        screen.beside("PHONE")


def test_find_takes_text_or_a_regular_expression_and_a_row() -> None:
    screen = session(*SCREEN)
    assert screen.find("F5=SAVE") == (6, 43, "F5=SAVE")
    assert screen.find("re:KSM0[0-9]{2}") == (1, 1, "KSM020")
    assert screen.find("KSM020", row=2) is None
    assert screen.find("KSK020") is None


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("enter", "\r"),
        ("F5", "\x1b[15~"),
        ("pf3", "\x1bOR"),
        ("PF15", "\x1b[1;2R"),
        ("shift+tab", "\x1b[Z"),
        ("ctrl+c", "\x03"),
        ("x", "x"),
    ],
)
def test_terminal_keys_are_sent_as_xterm_sends_them(name: str, sent: str) -> None:
    assert key_bytes(name) == sent


def test_an_unknown_terminal_key_names_the_known_ones() -> None:
    with pytest.raises(SystemException, match=r"unknown terminal key 'f13'.*pf1\.\.pf24"):
        key_bytes("f13")


def test_desktop_chords_take_keysym_names_and_short_names() -> None:
    assert parse_keys("shift+Odiaeresis") == [0xFFE1, 0xD6]
    assert parse_keys("ctrl+s") == [0xFFE3, ord("s")]
    assert parse_keys("ctrl++") == [0xFFE3, ord("+")]
    with pytest.raises(SystemException, match=r"unknown key\(s\) \['nokey'\]"):
        parse_keys("alt+nokey")


def test_an_error_names_the_screen_by_its_first_line_not_its_fields() -> None:
    from robots.actions.terminal import _shows

    shown = _shows(session(*SCREEN))
    assert shown.startswith("the screen's first line reads «KSM020 CUSTOMER ADDRESS»")
    assert "C000002" not in shown and "\n" not in shown
