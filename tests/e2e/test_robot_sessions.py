"""A robot's web sessions over many cases: one browser, kept logins, clean pages, recycling, no orphans.

One robot (``WebSessions``) serves the module, against the demo CRM; each test warms it up
with a case and then counts what the next cases cost: logins in the CRM's audit log,
browser starts, browser processes in /proc.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.server import DemoApps
from robots.drivers.systems import ByKind
from robots.drivers.web_session import WebSessions
from robots.engine.human_gateway import InMemoryHumans
from robots.engine.records import RunRecord
from robots.engine.runner import Engine
from robots.language.loader import parse_workflow
from robots.language.model import Workflow
from robots.language.project import Project
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def peek(recycle_after: int | None = None) -> Workflow:
    """Read a customer's city in the CRM; fail with a system exception when asked to."""
    recycle = f"\n    recycle_after: {recycle_after}" if recycle_after else ""
    text = f"""
name: peek
input:
  customer: {{type: string}}
  fail: {{type: boolean, required: false}}
systems:
  crm:
    kind: web
    url: "${{CRM_URL}}"
    login: crm_login
    credentials: crm_robot
    logged_out: "text=Your session has expired"{recycle}
steps:
  - in: crm
    steps:
      - web.evaluate: "window.leftover = 'from an earlier case'"
        when: "{{{{ input.fail }}}}"
      - web.goto: "/customers/{{{{ input.customer }}}}"
      - web.read: {{test_id: city}}
        as: city
      - web.evaluate: "typeof window.leftover"
        as: leftover
      - fail: {{message: the app misbehaved, kind: system}}
        when: "{{{{ input.fail }}}}"
outputs: {{city: "{{{{ city }}}}", leftover: "{{{{ leftover }}}}"}}
"""
    workflow, problems = parse_workflow(text.lstrip(), "peek.yaml")
    assert not problems, problems
    assert workflow is not None
    return workflow


@pytest.fixture(scope="module")
def web(robot_env: dict[str, str]) -> Iterator[WebSessions]:
    sessions = WebSessions()
    yield sessions
    sessions.close()


def run(web: WebSessions, workflow: Workflow, customer: str, *, fail: bool = False) -> RunRecord:
    engine = Engine(
        Project(ROOT),
        humans=InMemoryHumans(),
        systems=ByKind({"web": web}),
        artifacts_dir=Path(os.environ.get("TMPDIR", "/tmp")) / "tandem-session-tests",
        escalate_system_failures=False,
    )
    return engine.run(workflow, {"customer": customer, "fail": fail}, case_id=f"case-{uuid.uuid4().hex[:8]}")


def logins(demo: DemoApps) -> int:
    return sum(1 for entry in demo.audit("crm") if entry["action"] == "login")


def browser_processes(web: WebSessions) -> set[int]:
    """The browser's process and all its descendants (renderers, GPU, zygotes), from /proc."""
    root = web.browser_pid
    assert root is not None, "the browser is not running"
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return tree


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_one_browser_and_one_login_for_many_cases_each_on_a_clean_page(
    web: WebSessions, demo: DemoApps
) -> None:
    workflow = peek()
    assert run(web, workflow, "C000009").status == "done"  # warm: browser up, logged in
    starts, before = web.browser_starts, logins(demo)
    cities = [run(web, workflow, customer).outputs["city"] for customer in ("C000001", "C000002", "C000003")]
    assert cities == ["Berlin", "Hamburg", "München"]
    assert (web.browser_starts, logins(demo)) == (starts, before)  # no new browser, no new login


def test_a_system_exception_closes_the_session_and_the_next_case_starts_afresh(
    web: WebSessions, demo: DemoApps
) -> None:
    workflow = peek()
    assert run(web, workflow, "C000001").status == "done"
    starts, before = web.browser_starts, logins(demo)
    failed = run(web, workflow, "C000002", fail=True)
    assert failed.status == "failed_system" and failed.error == "the app misbehaved"
    after = run(web, workflow, "C000003")
    assert after.status == "done", after.error
    assert after.outputs["leftover"] == "undefined"  # nothing of the failed case's page remains
    assert logins(demo) == before + 1  # the session was closed after the failure and opened again
    assert web.browser_starts == starts  # the browser itself was fine and kept


def test_sessions_are_recycled_every_n_cases(web: WebSessions, demo: DemoApps) -> None:
    workflow = peek(recycle_after=2)
    web.discard("crm")
    before = logins(demo)
    for customer in ("C000001", "C000002", "C000003", "C000004", "C000005"):
        assert run(web, workflow, customer).status == "done"
    assert logins(demo) == before + 3  # cases 1-2, 3-4, 5


def test_a_crashed_browser_is_replaced_on_the_next_case(web: WebSessions, demo: DemoApps) -> None:
    workflow = peek()
    assert run(web, workflow, "C000001").status == "done"
    starts, before = web.browser_starts, logins(demo)
    crashed = web.browser_pid
    assert crashed is not None
    os.kill(crashed, signal.SIGKILL)
    record = run(web, workflow, "C000002")
    assert record.status == "done", record.error
    assert record.outputs["city"] == "Hamburg"
    assert web.browser_starts == starts + 1 and web.browser_pid not in (None, crashed)
    assert logins(demo) == before + 1


def test_a_hung_browser_is_killed_and_replaced_on_the_next_case(web: WebSessions, demo: DemoApps) -> None:
    workflow = peek()
    assert run(web, workflow, "C000001").status == "done"
    starts, hung = web.browser_starts, web.browser_pid
    assert hung is not None
    web.hang_timeout = 2.0
    os.kill(hung, signal.SIGSTOP)  # frozen: it answers nothing any more, but its process is there
    try:
        record = run(web, workflow, "C000002")
    finally:
        web.hang_timeout = 30.0
        if alive(hung):
            os.kill(hung, signal.SIGKILL)
    assert record.status == "done", record.error
    assert record.outputs["city"] == "Hamburg"
    assert web.browser_starts == starts + 1
    assert not alive(hung)  # the robot killed it


def test_closing_the_robot_leaves_no_browser_process(robot_env: dict[str, str], demo: DemoApps) -> None:
    web = WebSessions()
    try:
        assert run(web, peek(), "C000001").status == "done"
        processes = browser_processes(web)
        assert len(processes) > 1  # the browser and its helpers
    finally:
        web.close()
    left = sorted(pid for pid in processes if alive(pid))
    assert not left, f"browser processes outlived the robot: {left}"


def test_a_system_declared_otherwise_gets_its_own_session_but_never_under_an_open_block(
    web: WebSessions, demo: DemoApps
) -> None:
    from robots.errors import BusinessException
    from robots.language.model import SystemSpec

    crm = os.environ["CRM_URL"]
    by_variable = SystemSpec(kind="web", url="${CRM_URL}")
    by_address = SystemSpec(kind="web", url=crm)
    german = SystemSpec(kind="web", url=crm, locale="de-DE")
    web.discard("app")
    with web.session("app", by_variable, login=None, case_id="c-1") as first:
        # The same address written as it resolves is the same system: the session is shared.
        with web.session("app", by_address, login=None, case_id="c-1") as inner:
            assert inner is first
        # Another language under the same name would close the page the outer block works on.
        with (
            pytest.raises(BusinessException, match="declared otherwise here"),
            web.session("app", german, login=None, case_id="c-1"),
        ):
            pass
        first.page.goto(crm)  # still open
    with web.session("app", german, login=None, case_id="c-2") as second:
        assert second is not first  # no block holds the first any more: a session of its own
        assert second.page.evaluate("navigator.language") == "de-DE"
    web.discard("app")
