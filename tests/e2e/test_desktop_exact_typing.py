"""Exact typing on Xvfb: texts typed into a real Tk field come back as written (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from robots.drivers.desktop_session import DesktopSessions
from tests.e2e.test_desktop_actions import desktop, files, flow, lines_of, run

pytestmark = pytest.mark.e2e

__all__ = ["desktop", "files"]  # fixtures used below by name


@pytest.fixture(scope="module")
def log(files: dict[str, Path]) -> Path:
    """One log for the module: the program (started once, kept across cases) writes there."""
    return files["folder"] / "typing.log"


TEXTS = [
    "Öhringer Straße 5",
    "Zum Ölberg",
    "ÄÖÜ äöü ß ẞ €",
    "more letters than spare keys: ŁŚŻŹĆŃĘĄ čďěňřšťůž ΩΑΒΓΔ αβγδ şğı ÞÐ",
    "Crème brûlée à Évian, Ærø, Øresund, Åre, Ñandú, Łódź, Œuvre",
    "ASCII: AbC xyZ 0-9 !\"#$%&/()=?{[]}\\ ~ @ | < > ^ ` '",
]


@pytest.mark.parametrize("text", TEXTS)
def test_every_character_arrives_as_written(
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path, text: str
) -> None:
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    record = run(
        desktop,
        tmp_path,
        flow(files, log, f'- desktop.type: {{text: "{quoted}", clear: true}}\n- desktop.hotkey: ctrl+s'),
    )
    assert record.status == "done", record.error
    assert f"saved {text}" in lines_of(log, f"saved {text}")


def test_hotkey_takes_x_keysym_names(
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    steps = """
    - desktop.type: {text: "", clear: true}
    - desktop.hotkey: shift+odiaeresis
    - desktop.hotkey: odiaeresis
    - desktop.hotkey: Odiaeresis
    - desktop.hotkey: ssharp
    - desktop.hotkey: €
    - desktop.hotkey: Lstroke
    - desktop.hotkey: {keys: x, times: 2}
    - desktop.hotkey: ctrl+s
    """
    record = run(desktop, tmp_path, flow(files, log, steps))
    assert record.status == "done", record.error
    assert "saved ÖöÖß€Łxx" in lines_of(log, "saved ÖöÖß€Łxx")


def test_an_unknown_key_name_is_refused_with_examples(
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    record = run(desktop, tmp_path, flow(files, log, "- desktop.hotkey: ctrl+nosuchkey"))
    assert record.status == "failed_system"
    assert "unknown key(s) ['nosuchkey']" in (record.error or "")
    assert "odiaeresis" in (record.error or "")


def test_legacy_keysym_names_are_known() -> None:
    from robots.drivers.keysyms import keysym_of_name

    assert keysym_of_name("Lstroke") == 0x1A3
    assert keysym_of_name("Odiaeresis") == 0xD6
    assert keysym_of_name("odiaeresis") == 0xF6
    assert keysym_of_name("f5") == keysym_of_name("F5") == 0xFFC2
    assert keysym_of_name("enter") == 0xFF0D
