"""Desktop actions on a real Xvfb display (started and stopped by the project) and a tiny Tk program."""

from __future__ import annotations

import os
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from robots.drivers.desktop_session import DesktopSession, DesktopSessions
from robots.drivers.systems import ByKind
from robots.engine.human_gateway import InMemoryHumans
from robots.engine.records import RunRecord
from robots.engine.runner import Engine
from robots.language.loader import parse_workflow
from robots.language.model import Workflow
from robots.language.project import Project
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

SCRATCHPAD = ROOT / "tests" / "e2e" / "scratchpad.py"


def pattern(path: Path, colours: tuple[tuple[int, int, int], ...]) -> Path:
    """A 48x48 PNG of stripes, unlike anything else on the screen."""
    image = Image.new("RGB", (48, 48))
    for x in range(48):
        for y in range(48):
            image.putpixel((x, y), colours[(x // 6 + y // 12) % len(colours)])
    image.save(path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("desktop")
    return {
        "target": pattern(folder / "target.png", ((220, 20, 60), (255, 215, 0), (30, 60, 200))),
        "done": pattern(folder / "done.png", ((0, 160, 70), (10, 10, 10), (240, 240, 240))),
        "folder": folder,
    }


@pytest.fixture(scope="module")
def desktop() -> Iterator[DesktopSessions]:
    """A robot's desktop: its own Xvfb, stopped at the end."""
    provider = DesktopSessions(display=None)
    previous = os.environ.get("TANDEM_DISPLAY")
    os.environ["TANDEM_DISPLAY"] = "xvfb"
    yield provider
    provider.close()
    if previous is None:
        os.environ.pop("TANDEM_DISPLAY", None)
    else:
        os.environ["TANDEM_DISPLAY"] = previous


@pytest.fixture
def log(files: dict[str, Path]) -> Path:
    return files["folder"] / f"pad-{uuid.uuid4().hex[:6]}.log"


def flow(files: dict[str, Path], log: Path, steps: str, outputs: str = "") -> Workflow:
    program = f"{sys.executable} {SCRATCHPAD} {log} {files['target']} {files['done']}"
    text = (
        "name: t\nsystems:\n"
        f"  pad: {{kind: desktop, program: '{program}', window: Scratch Pad}}\n"
        "steps:\n  - in: pad\n    steps:\n" + textwrap.indent(textwrap.dedent(steps).strip(), " " * 6) + "\n"
    )
    if outputs:
        text += "outputs:\n" + textwrap.indent(textwrap.dedent(outputs).strip(), "  ") + "\n"
    workflow, problems = parse_workflow(text, "t.yaml")
    assert not problems, problems
    assert workflow is not None
    return workflow


def run(desktop: DesktopSessions, tmp_path: Path, workflow: Workflow) -> RunRecord:
    (tmp_path / "workflows").mkdir(exist_ok=True)
    engine = Engine(
        Project(tmp_path),
        humans=InMemoryHumans(),
        systems=ByKind({"desktop": desktop}),
        artifacts_dir=tmp_path / "artifacts",
    )
    return engine.run(workflow, {}, case_id=f"case-{uuid.uuid4().hex[:8]}")


def lines_of(log: Path, expected: str, timeout: float = 10.0) -> list[str]:
    """The program's log once it holds ``expected`` (Tk handles events after the robot sent them)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        if expected in lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def pad(desktop: DesktopSessions) -> DesktopSession:
    session = desktop._sessions["pad"]
    assert isinstance(session, DesktopSession)
    return session


def test_type_hotkey_clipboard_click_image_wait_and_screenshot(
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    record = run(
        desktop,
        tmp_path,
        flow(
            files,
            log,
            f"""
            - desktop.click: {{x: 200, y: 35}}
            - desktop.type: {{text: "Grüße aus Köln", clear: true}}
            - desktop.hotkey: ctrl+s
            - desktop.read_clipboard:
              as: clipboard
            - desktop.click: {{image: "{files["target"]}", confidence: 0.9, region: [400, 200, 300, 250]}}
              as: clicked
            - desktop.wait_for_image: {{image: "{files["done"]}", timeout: 10}}
              as: done
            - desktop.screenshot: {{region: [0, 0, 640, 480], path: pad.png}}
              as: shot
            """,
            """
            clipboard: "{{ clipboard }}"
            clicked: "{{ clicked.x }},{{ clicked.y }}"
            done: "{{ done.x }},{{ done.y }}"
            shot: "{{ shot }}"
            """,
        ),
    )
    assert record.status == "done", record.error
    assert record.outputs["clipboard"] == "Grüße aus Köln"  # 'old text' was replaced, not appended to
    assert record.outputs["clicked"] == "524,324"  # the centre of the image at (500, 300)
    assert record.outputs["done"] == "124,324"
    lines = lines_of(log, "target")
    assert "saved Grüße aus Köln" in lines and "target" in lines
    with Image.open(record.outputs["shot"]) as shot:
        assert shot.size == (640, 480)
        assert shot.getpixel((524, 324)) == Image.open(files["target"]).getpixel((24, 24))


def test_an_image_outside_the_region_is_not_found_and_the_screen_is_kept(
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    record = run(
        desktop,
        tmp_path,
        flow(
            files,
            log,
            f"""
            - desktop.click: {{image: "{files["target"]}", region: [0, 0, 400, 200], timeout: 0.5}}
            """,
        ),
    )
    assert record.status == "failed_system"
    assert "not on screen (confidence 0.9) within 0.5s" in (record.error or "")
    saved = Path((record.error or "").split("the screen is saved at ")[1].split()[0])
    with Image.open(saved) as screen:
        assert screen.size == (1280, 1024)
    in_block = next(step for step in record.steps if step.kind == "in")
    assert any(path.endswith(".png") and Path(path).is_file() for path in in_block.artifacts)
    assert "target" not in lines_of(log, "target", timeout=0.2)  # nothing was clicked


def test_launch_and_close_another_program_politely(
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    second_log = tmp_path / "second.log"
    command = f"{sys.executable} {SCRATCHPAD} {second_log} {files['target']} {files['done']} 'Second Pad'"
    record = run(
        desktop,
        tmp_path,
        flow(
            files,
            log,
            f"""
            - desktop.launch: {{command: "{command}", window: Second Pad}}
              as: second
            - desktop.close: Second Pad
            """,
            "{second: '{{ second.pid }}'}",
        ),
    )
    assert record.status == "done", record.error
    assert lines_of(second_log, "closed") == ["started", "closed"]  # asked to close, not killed
    (launched,) = [p for p in pad(desktop).launched if str(p.pid) == str(record.outputs["second"])]
    assert launched.wait(timeout=10) == 0


def test_a_program_that_died_is_started_again_for_the_next_case(
    desktop: DesktopSessions, files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    workflow = flow(files, log, "- desktop.hotkey: escape")
    assert run(desktop, tmp_path, workflow).status == "done"
    first = pad(desktop).process
    assert first is not None
    first.kill()
    first.wait(timeout=10)
    again = run(desktop, tmp_path, workflow)
    assert again.status == "done", again.error
    second = pad(desktop).process
    assert second is not None and second.pid != first.pid and second.poll() is None


def test_desktop_actions_outside_a_desktop_system_are_refused_when_loading() -> None:
    workflow, problems = parse_workflow("name: t\nsteps:\n  - desktop.hotkey: enter\n", "t.yaml")
    assert workflow is None
    (problem,) = problems
    assert (problem.line, problem.column) == (3, 5)
    assert problem.message == "desktop.hotkey needs a desktop system"
    assert problem.hint == "put it inside an 'in: <system>' block of a desktop system"


def test_closing_the_robot_stops_its_programs_and_its_display(
    files: dict[str, Path], log: Path, tmp_path: Path
) -> None:
    robot = DesktopSessions()
    command = f"{sys.executable} {SCRATCHPAD} {tmp_path / 'x.log'} {files['target']} {files['done']} Extra"
    record = run(
        robot, tmp_path, flow(files, log, f'- desktop.launch: {{command: "{command}", window: Extra}}')
    )
    assert record.status == "done", record.error
    session = robot._sessions["pad"]
    processes = [session.process, *session.launched]
    xvfb = [p for p in _children() if _cmdline(p)[:2] == ["Xvfb", robot.display]]
    assert xvfb, f"the robot started no Xvfb of its own on {robot.display}"
    robot.close()
    assert all(p is not None and p.poll() is not None for p in processes)
    assert not [p for p in _children() if p in xvfb]


def _children() -> list[int]:
    """Pids of this test process's live children (from /proc)."""
    mine = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[1] == mine and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    except OSError:
        return []
    return [Path(words[0]).name, *words[1:]]
