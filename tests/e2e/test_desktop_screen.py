"""Reading the screen by OCR, one of several screens, checks, focus and project paths (issue 18)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from robots.drivers.desktop_session import DesktopSessions
from tests.conftest import ROOT
from tests.e2e.test_desktop_actions import SCRATCHPAD, desktop, files, flow, lines_of, run

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not shutil.which("tesseract"), reason="needs tesseract")]

__all__ = ["desktop", "files"]  # fixtures used below by name

FIELD = "[23, 23, 394, 24]"  # inside the field's border, which OCR reads as I or ]


@pytest.fixture(scope="module")
def log(files: dict[str, Path]) -> Path:
    """One log for the module: the program (started once, kept across cases) writes there."""
    return files["folder"] / "screen.log"


def test_read_text_reads_what_was_typed_with_its_confidence(  # the region ends before the text cursor
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    steps = """
    - desktop.type: {text: "Öhringer Straße 5", clear: true}
    - desktop.read_text: {region: [20, 20, 206, 30]}
      as: field
    """
    record = run(
        desktop,
        tmp_path,
        flow(files, log, steps, "{text: '{{ field.text }}', conf: '{{ field.confidence }}'}"),
    )
    assert record.status == "done", record.error
    assert record.outputs["text"] == "Öhringer Straße 5"
    assert float(record.outputs["conf"]) > 70


def test_wait_for_any_says_which_appeared_and_exists_never_fails(
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    steps = f"""
    - desktop.type: {{text: "KSM010 Zum Ölberg", clear: true}}
    - desktop.wait_for_any: {{texts: [KSK020, KSM010], match: tolerant, region: {FIELD}, timeout: 5}}
      as: text_screen
    - desktop.wait_for_any: {{images: ["{files["done"]}", "{files["target"]}"], texts: [Ölberg], timeout: 5}}
      as: image_screen
    - desktop.exists: {{text: KSK020, match: tolerant, region: {FIELD}}}
      as: other_screen
    - desktop.exists: {{image: "{files["target"]}"}}
      as: target_shown
    - desktop.wait_for_text: {{text: KSK020, match: tolerant, gone: true, region: {FIELD}, timeout: 2}}
    """
    outputs = """
    text: "{{ text_screen.found }} {{ text_screen.index }}"
    image: "{{ image_screen.kind }} {{ image_screen.index }} {{ image_screen.x }}"
    other: "{{ other_screen }}"
    target: "{{ target_shown }}"
    """
    record = run(desktop, tmp_path, flow(files, log, steps, outputs))
    assert record.status == "done", record.error
    assert record.outputs["text"] == "KSM010 1"  # KSK020 looks alike, but is not there
    assert record.outputs["image"] == "image 1 524"  # 'done' is not shown yet: the target is
    assert record.outputs["other"] is False
    assert record.outputs["target"] is True


def test_a_text_that_does_not_come_fails_clearly(
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    record = run(
        desktop,
        tmp_path,
        flow(files, log, f"- desktop.wait_for_text: {{text: SAVED, region: {FIELD}, timeout: 1}}"),
    )
    assert record.status == "failed_system"
    assert "the text 'SAVED' is not on screen after 1s" in (record.error or "")


def test_images_are_found_relative_to_the_project_folder(
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    (tmp_path / "images").mkdir()
    shutil.copy(files["target"], tmp_path / "images" / "target.png")
    record = run(
        desktop,
        tmp_path,
        flow(files, log, "- desktop.wait_for_image: {image: images/target.png, timeout: 3}"),
    )
    assert record.status == "done", record.error


def test_keys_go_to_the_programs_window_even_when_another_has_the_focus(
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    second_log = tmp_path / "second.log"
    command = f"{sys.executable} {SCRATCHPAD} {second_log} {files['target']} {files['done']} 'Second Pad'"
    steps = f"""
    - desktop.launch: {{command: "{command}", window: Second Pad}}
    - desktop.wait_for_image: {{image: "{files["target"]}", timeout: 5}}
    - desktop.type: {{text: "focused", clear: true}}
    - desktop.hotkey: ctrl+s
    - desktop.close: Second Pad
    """
    record = run(desktop, tmp_path, flow(files, log, steps))
    assert record.status == "done", record.error
    assert "saved focused" in lines_of(log, "saved focused")
    assert not any(line.startswith("saved") for line in lines_of(second_log, "closed"))


def test_a_logged_out_text_on_screen_runs_the_login_again(
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    from robots.language.loader import parse_workflow

    (tmp_path / "workflows").mkdir(exist_ok=True)
    (tmp_path / "workflows" / "pad_login.yaml").write_text(
        "name: pad_login\nruns_in: desktop\nsteps:\n"
        '  - desktop.type: {text: "signed on", clear: true}\n  - desktop.hotkey: ctrl+s\n',
        encoding="utf-8",
    )
    program = f"{sys.executable} {SCRATCHPAD} {log} {files['target']} {files['done']}"

    def workflow(text: str) -> object:
        yaml = (
            "name: t\nsystems:\n"
            f"  pad: {{kind: desktop, program: '{program}', window: Scratch Pad, login: pad_login, "
            "logged_out: SESSION EXPIRED}\n"
            f'steps:\n  - in: pad\n    steps:\n      - desktop.type: {{text: "{text}", clear: true}}\n'
        )
        parsed, problems = parse_workflow(yaml, "t.yaml")
        assert not problems, problems
        return parsed

    desktop.discard("pad")  # a program started with this system's login
    assert run(desktop, tmp_path, workflow("SESSION EXPIRED")).status == "done"  # type: ignore[arg-type]
    logins = lines_of(log, "saved signed on").count("saved signed on")
    assert run(desktop, tmp_path, workflow("next case")).status == "done"  # type: ignore[arg-type]
    assert lines_of(log, "x", timeout=1).count("saved signed on") == logins + 1
    assert run(desktop, tmp_path, workflow("third case")).status == "done"  # type: ignore[arg-type]
    assert lines_of(log, "x", timeout=1).count("saved signed on") == logins + 1  # not expired: no login


def test_keys_wait_while_the_input_locked_sign_is_on_screen(
    desktop: DesktopSessions, files: dict[str, Path], tmp_path: Path
) -> None:
    from robots.language.loader import parse_workflow

    second_log = tmp_path / "locked.log"
    program = f"{sys.executable} {SCRATCHPAD} {second_log} {files['target']} {files['done']} 'Locked Pad'"

    def workflow(lock_sign: Path) -> object:
        yaml = (
            "name: t\nsystems:\n"
            f'  locked: {{kind: desktop, program: "{program}", window: Locked Pad, '
            f"input_locked: '{lock_sign}'}}\n"
            "steps:\n  - in: locked\n    timeout: 3s\n    steps:\n"
            '      - desktop.type: {text: "typed", clear: true}\n      - desktop.hotkey: ctrl+s\n'
        )
        parsed, problems = parse_workflow(yaml, "t.yaml")
        assert not problems, problems
        return parsed

    try:
        shown = run(desktop, tmp_path, workflow(files["target"]))  # type: ignore[arg-type]
        assert shown.status == "failed_system"
        # the step's timeout (3 s) ends the wait before the 30 s lock limit does
        assert "timeout of 3s" in (shown.error or "")
        assert not any(line.startswith("saved") for line in lines_of(second_log, "saved", timeout=0.5))
        free = run(desktop, tmp_path, workflow(files["done"]))  # type: ignore[arg-type]
        assert free.status == "done", free.error
        assert "saved typed" in lines_of(second_log, "saved typed")
    finally:
        desktop.discard("locked")


def test_a_logged_out_image_is_found_in_the_project_not_in_tandem_home(
    desktop: DesktopSessions,
    files: dict[str, Path],
    log: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The project (tmp_path) lies outside Tandem's checkout, which TANDEM_HOME names; the
    system's ``logged_out`` image, checked when the block starts, is the project's."""
    from robots.language.loader import parse_workflow

    monkeypatch.setenv("TANDEM_HOME", str(ROOT))
    (tmp_path / "workflows").mkdir(exist_ok=True)
    (tmp_path / "images").mkdir(exist_ok=True)
    shutil.copy(files["target"], tmp_path / "images" / "signed-off.png")  # always on the pad's screen
    (tmp_path / "workflows" / "pad_login.yaml").write_text(
        "name: pad_login\nruns_in: desktop\nsteps:\n"
        '  - desktop.type: {text: "signed on", clear: true}\n  - desktop.hotkey: ctrl+s\n',
        encoding="utf-8",
    )
    program = f"{sys.executable} {SCRATCHPAD} {log} {files['target']} {files['done']}"
    yaml = (
        "name: t\nsystems:\n"
        f"  pad: {{kind: desktop, program: '{program}', window: Scratch Pad, login: pad_login, "
        "logged_out: images/signed-off.png}\n"
        'steps:\n  - in: pad\n    steps:\n      - desktop.type: {text: "a case", clear: true}\n'
    )
    workflow, problems = parse_workflow(yaml, "t.yaml")
    assert not problems and workflow is not None, problems
    desktop.discard("pad")
    try:
        assert run(desktop, tmp_path, workflow).status == "done"  # started: logged in once
        logins = lines_of(log, "saved signed on").count("saved signed on")
        second = run(desktop, tmp_path, workflow)  # the sign is on screen: logged in again
        assert second.status == "done", second.error
        assert lines_of(log, "x", timeout=1).count("saved signed on") == logins + 1

        (tmp_path / "images" / "signed-off.png").unlink()
        missing = run(desktop, tmp_path, workflow)
        assert missing.status == "failed_system"
        assert f"the image 'images/signed-off.png' is not there ({tmp_path / 'images'}" in (
            missing.error or ""
        )
    finally:
        desktop.discard("pad")
