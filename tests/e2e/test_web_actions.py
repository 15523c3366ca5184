"""Web actions against a real Chromium and a local app (tests/e2e/webpages.py)."""

from __future__ import annotations

import textwrap
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from robots.actions import web_reading as web_actions
from robots.drivers.systems import ByKind
from robots.drivers.web_session import WebSessions
from robots.engine.human_gateway import InMemoryHumans
from robots.engine.records import RunRecord
from robots.engine.runner import Engine
from robots.language.loader import parse_workflow
from robots.language.model import Workflow
from robots.language.project import Project
from tests.e2e import webpages

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with webpages.serve() as url:
        yield url


@pytest.fixture(scope="module")
def sessions() -> Iterator[WebSessions]:
    provider = WebSessions()
    yield provider
    provider.close()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "site_login.yaml").write_text(
        textwrap.dedent("""
        name: site_login
        runs_in: web
        input:
          credentials: {type: string, required: false}
        steps:
          - web.goto: /login
          - web.fill: {label: User, value: robot}
          - web.fill: {label: Password, value: "{{ secret('site.password') }}"}
          - web.click: {role: button, name: Sign in, expect_navigation: true}
          - web.expect: {text: Welcome back}
    """)
    )
    return Project(tmp_path)


def flow(
    site: str, steps: str, *, login: bool = False, marker: str = "logged_out: 'text=Please sign in'"
) -> Workflow:
    system = f'{{kind: web, url: "{site}"' + (f", login: site_login, {marker}" if login else "") + "}"
    text = f"name: t\nsystems:\n  site: {system}\nsteps:\n  - in: site\n    steps:\n"
    text += textwrap.indent(textwrap.dedent(steps).strip(), " " * 6) + "\n"
    workflow, problems = parse_workflow(text, "t.yaml")
    assert not problems, problems
    assert workflow is not None
    return workflow


def run(project: Project, sessions: WebSessions, workflow: Workflow, case_id: str | None = None) -> RunRecord:
    engine = Engine(
        project,
        humans=InMemoryHumans(),
        systems=ByKind({"web": sessions}),
        artifacts_dir=project.root / "artifacts",
    )
    return engine.run(workflow, {}, case_id=case_id or f"case-{uuid.uuid4().hex[:8]}")


def test_fill_click_confirm_and_wait_for_the_response(
    site: str, project: Project, sessions: WebSessions
) -> None:
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /form
        - web.fill: {label: Street, value: Hauptstraße 5}
        - web.click: {role: button, name: Save, expect_response: "**/api/save"}
        - web.expect: {role: status, equals: Saved Hauptstraße 5}
    """,
        ),
    )
    assert record.status == "done", record.error
    assert webpages.STATE["saves"] >= 1


def test_dismissed_dialog_cancels(site: str, project: Project, sessions: WebSessions) -> None:
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /form
        - web.dialog: dismiss
        - web.click: {role: button, name: Save}
        - web.expect: {role: status, equals: Cancelled}
        - web.dialog: accept
          as: seen
    """,
        ),
    )
    assert record.status == "done", record.error
    assert record.steps[-1].outputs == ["Save the address?"]


def test_read_table_select_check_and_values(site: str, project: Project, sessions: WebSessions) -> None:
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /form
        - web.read: {css: "#slots", what: table}
          as: slots
        - web.select: {label: Time slot, option: "12:00-16:00"}
        - web.check: {label: I confirm}
        - web.read: {label: I confirm, what: checked}
          as: ticked
        - web.read: {label: City, what: value}
          as: city
        - output: {slots: "{{ slots }}", ticked: "{{ ticked }}", city: "{{ city }}"}
    """,
        ),
    )
    assert record.status == "done", record.error
    assert record.outputs["slots"] == [
        {"Date": "2026-12-01", "Window": "08:00-12:00"},
        {"Date": "2026-12-02", "Window": "12:00-16:00"},
    ]
    assert record.outputs["ticked"] is True
    assert record.outputs["city"] == "Berlin"


def test_iframe_work(site: str, project: Project, sessions: WebSessions) -> None:
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /form
        - web.frame: "iframe[title='Edit address']"
        - web.fill: {label: Postal code, value: "10115"}
        - web.click: {role: button, name: Save in frame}
        - web.expect: {text: Frame saved 10115}
        - web.frame: {main: true}
        - web.expect: {role: heading, name: Customer}
    """,
        ),
    )
    assert record.status == "done", record.error


@pytest.mark.parametrize(
    ("step", "fails_at"),
    [
        ("web.fill: {label: Postal code, value: '10115'}", "fill label='Postal code'"),  # waits itself
        ("web.read: {label: Postal code, what: count}", ""),  # would count 0 in no frame
        ("web.expect: {label: Postal code, visible: false}", ""),  # would pass in no frame
        ("web.wait_for: {label: Postal code, state: detached}", ""),
    ],
)
def test_a_missing_iframe_names_the_frames_the_page_has(
    site: str,
    project: Project,
    sessions: WebSessions,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    fails_at: str,
) -> None:
    """web.frame does not wait for its iframe; the step after it fails naming it, whatever it is."""
    monkeypatch.setenv("TANDEM_WEB_TIMEOUT", "0.5")
    steps = f"- web.goto: /form\n- web.frame: \"iframe[title='Edit']\"\n- {step}"
    record = run(project, sessions, flow(site, steps))
    assert record.status == "failed_system"
    assert record.error_step == "1.3"
    assert "no iframe \"iframe[title='Edit']\" on " in (record.error or "")
    assert "/frame" in (record.error or "")  # the page's one frame, by its URL
    assert fails_at in (record.error or "")


def test_nested_iframes_and_a_frame_that_loads_late(
    site: str, project: Project, sessions: WebSessions
) -> None:
    """A count right after web.frame waits for the iframe to be there (it comes after 300 ms)."""
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /late-frame
        - web.frame: "iframe[title='Outer']"
        - web.frame: "iframe[title='Edit address']"
        - web.read: {label: Postal code, what: count}
          as: fields
        - output: {fields: "{{ fields }}"}
    """,
        ),
    )
    assert record.status == "done", record.error
    assert record.outputs["fields"] == 1


def test_new_tab_download_and_upload(
    site: str, project: Project, sessions: WebSessions, tmp_path: Path
) -> None:
    attachment = tmp_path / "letter.txt"
    attachment.write_text("hello")
    record = run(
        project,
        sessions,
        flow(
            site,
            f"""
        - web.goto: /form
        - web.download: {{role: link, name: Export}}
          as: file
        - web.upload: {{label: Attachment, files: ["{attachment}"]}}
        - web.click: {{role: link, name: Open details}}
        - web.tab: newest
        - web.expect: {{role: heading, name: Details page}}
        - output: {{file: "{{{{ file }}}}"}}
    """,
        ),
    )
    assert record.status == "done", record.error
    assert Path(record.outputs["file"]).read_text() == "a,b\n1,2\n"
    assert "letter.txt" in webpages.STATE["uploads"]  # type: ignore[operator]


def test_missing_element_says_what_the_page_has(site: str, project: Project, sessions: WebSessions) -> None:
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /form
        - web.fill: {label: Stret, value: x, timeout: 0.5}
    """,
        ),
    )
    assert record.status == "failed_system"
    assert "no element label='Stret'" in record.error
    assert "'Street'" in record.error and "'City'" in record.error


def test_ambiguous_element_is_refused(site: str, project: Project, sessions: WebSessions) -> None:
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /form
        - web.click: {role: button, name: Delete, timeout: 1}
    """,
        ),
    )
    assert record.status == "failed_system"
    assert "matches 2 elements" in record.error


def test_failed_expectation_says_what_was_seen(site: str, project: Project, sessions: WebSessions) -> None:
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /form
        - web.expect: {label: City, value: Hamburg, timeout: 0.5}
    """,
        ),
    )
    assert record.status == "failed_system"
    # What the page holds is quoted «like this», so log lines can leave it out (robots.logs).
    assert "expected label='City' value='Hamburg', but the value is «'Berlin'»" in record.error


def test_expect_checks_visibility_only_when_asked_along_with_a_text(
    site: str, project: Project, sessions: WebSessions
) -> None:
    hide = (
        "- web.goto: /form\n"
        "- web.evaluate: \"document.body.insertAdjacentHTML('beforeend', "
        "'<span data-testid=ghost hidden>Secret</span>')\"\n"
    )
    text_only = run(project, sessions, flow(site, hide + "- web.expect: {test_id: ghost, equals: Secret}"))
    assert text_only.status == "done", text_only.error
    shown = run(
        project,
        sessions,
        flow(site, hide + "- web.expect: {test_id: ghost, equals: Secret, visible: true, timeout: 0.5}"),
    )
    assert shown.status == "failed_system" and "test_id='ghost'" in (shown.error or "")


def test_error_status_and_app_down(project: Project, sessions: WebSessions, site: str) -> None:
    record = run(project, sessions, flow(site, "- web.goto: /broken"))
    assert "answered HTTP 503" in (record.error or "")
    down = run(project, sessions, flow(f"http://127.0.0.1:{webpages._free_port()}", "- web.goto: /"))
    assert down.status == "failed_system"
    assert "not answering" in (down.error or "")


def test_failure_keeps_screenshot_and_trace(site: str, project: Project, sessions: WebSessions) -> None:
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /form
        - web.click: {role: button, name: Nope, timeout: 0.3}
    """,
        ),
    )
    in_block = next(step for step in record.steps if step.kind == "in")
    kinds = sorted(Path(path).suffix for path in in_block.artifacts)
    assert kinds == [".html", ".png", ".zip"], in_block.artifacts
    assert all(Path(path).stat().st_size > 0 for path in in_block.artifacts)
    page = next(Path(path) for path in in_block.artifacts if path.endswith(".html"))
    assert "<title>Form</title>" in page.read_text(encoding="utf-8")  # the page the step failed on


@pytest.mark.parametrize(
    "marker",
    [
        "logged_out: 'text=Please sign in'",  # an element only the login page has
        "logged_out_url: '**/login'",  # where the site sends an expired session
        "logged_out_url: 're:/log[in]+$'",
    ],
)
def test_login_once_and_again_after_expiry(
    site: str, project: Project, sessions: WebSessions, monkeypatch: pytest.MonkeyPatch, marker: str
) -> None:
    import httpx

    monkeypatch.setenv("TANDEM_SECRET_SITE_PASSWORD", "pw-123")
    sessions.discard("site")  # a login of its own for each way of telling
    workflow = flow(site, "- web.goto: /home\n- web.expect: {text: Welcome back}", login=True, marker=marker)
    first = run(project, sessions, workflow, "case-a")
    second = run(project, sessions, workflow, "case-b")
    assert first.status == second.status == "done", (first.error, second.error)
    logins = [s for s in first.steps + second.steps if s.kind == "web.fill" and "User" in s.label]
    assert len(logins) == 1  # the second case reused the session
    httpx.post(f"{site}/expire")
    third = run(project, sessions, workflow, "case-c")
    assert third.status == "done", third.error
    assert any(s.kind == "web.fill" and "User" in s.label for s in third.steps)
    assert "pw-123" not in third.model_dump_json()


_HEAD = "<thead><tr><th>Date</th><th>Window</th><th></th></tr></thead>"
_ROW = "<tr><td>2026-12-01</td><td> 08:00 -  12:00 </td><td><button>Book</button></td></tr>"
TABLES = {  # name: (HTML, read from its text without the script)
    "header and rows": (f"{_HEAD}<tbody>{_ROW}<tr><td>a&nbsp;b</td><td></td><td>x</td></tr></tbody>", True),
    "no rows": (f"{_HEAD}<tbody></tbody>", True),
    "one column": ("<thead><tr><th>Name</th></tr></thead><tbody><tr><td>Anna</td></tr></tbody>", False),
    "header row without thead": ("<tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr>", False),
    "no header": ("<tr><td>1</td><td>2</td></tr>", False),
    "caption": (f"<caption>Free slots</caption>{_HEAD}<tbody>{_ROW}</tbody>", False),
    "footer": (
        f"{_HEAD}<tbody>{_ROW}</tbody><tfoot><tr><td>1</td><td>slot</td><td></td></tr></tfoot>",
        False,
    ),
    "line break in a cell": (
        f"{_HEAD}<tbody><tr><td>Mon<br>1 Dec</td><td>08-12</td><td></td></tr></tbody>",
        False,
    ),
    "line break in one column": (
        "<thead><tr><th>A</th></tr></thead><tbody><tr><td>x<br>y</td></tr></tbody>",
        False,
    ),
    "hidden row": (
        f"{_HEAD}<tbody>{_ROW}<tr style='display:none'><td>1</td><td>2</td><td>3</td></tr></tbody>",
        False,
    ),
    "hidden cell": (
        f"{_HEAD}<tbody><tr><td>1</td><td style='display:none'>2</td><td>3</td></tr></tbody>",
        False,
    ),
    "colspan": (f"{_HEAD}<tbody>{_ROW}<tr><td colspan='3'>fully booked</td></tr></tbody>", False),
    "td in the header": (
        "<thead><tr><th>A</th><td>B</td></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody>",
        False,
    ),
    "two header rows": (
        "<thead><tr><th>Slots</th></tr><tr><th>A</th></tr></thead><tbody><tr><td>1</td></tr></tbody>",
        False,
    ),
    "second header row of td": (
        f"{_HEAD[:-8]}<tr><td>x</td><td>y</td><td>z</td></tr></thead><tbody>{_ROW}</tbody>",
        False,
    ),
    "hidden header row": (f"<thead style='display:none'>{_HEAD[7:]}<tbody>{_ROW}</tbody>", False),
    "empty footer": (f"{_HEAD}<tbody>{_ROW}</tbody><tfoot></tfoot>", False),
    "caption and a hidden row": (
        f"<caption>Slots</caption>{_HEAD}<tbody>{_ROW}"
        "<tr style='display:none'><td>1</td><td>2</td><td>3</td></tr></tbody>",
        False,
    ),
    "one column, caption and a hidden row": (
        "<caption>Names</caption><thead><tr><th>Name</th></tr></thead>"
        "<tbody><tr><td>Anna</td></tr><tr style='display:none'><td>Ben</td></tr></tbody>",
        False,
    ),
    "invisible row": (
        f"{_HEAD}<tbody>{_ROW}<tr style='visibility:hidden'><td>1</td><td>2</td><td>3</td></tr></tbody>",
        False,
    ),
    "two bodies": (f"{_HEAD}<tbody>{_ROW}</tbody><tbody>{_ROW}</tbody>", True),
    "one column, caption and footer": (
        "<caption>Names</caption><thead><tr><th>Name</th></tr></thead>"
        "<tbody><tr><td>Anna</td></tr></tbody><tfoot><tr><td>1 name</td></tr></tfoot>",
        False,
    ),
    "header after the body": (f"<tbody>{_ROW}</tbody>{_HEAD}", False),
    "a row outside any section, and a footer": (
        f"{_HEAD}<tbody>{_ROW}</tbody><tfoot><tr><td>1</td><td>2</td><td>3</td></tr></tfoot>"
        "<script>document.currentScript.parentNode.appendChild(document.createElement('tr'))"
        ".innerHTML = '<td>4</td><td>5</td><td>6</td>'</script>",
        False,
    ),
}


class _Watched:
    """A locator that notes whether a script was evaluated on it."""

    def __init__(self, locator: Any) -> None:
        self.watched, self.evaluated = locator, False

    def __getattr__(self, name: str) -> Any:
        if name == "evaluate":
            self.evaluated = True
        return getattr(self.watched, name)


@pytest.mark.parametrize("name", list(TABLES))
def test_a_table_read_from_its_text_equals_the_script_reading_it(name: str, browser: Any) -> None:
    html, from_text = TABLES[name]
    page = browser.new_page()
    try:
        page.set_content(f"<table id='t'>{html}</table>")
        table = _Watched(page.locator("#t"))
        read = web_actions._read_table(table, 5000)
        assert read == page.locator("#t").evaluate(web_actions._TABLE_SCRIPT)
        assert table.evaluated is not from_text
    finally:
        page.close()


def test_traced_cases_send_no_client_stacks_and_the_trace_keeps_the_actions(
    site: str, project: Project, sessions: WebSessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright._impl.connection import Connection

    sent: list[str] = []
    send = Connection.send_message_to_server

    def counting(self: Any, owner: Any, method: str, params: Any, options: Any) -> Any:
        sent.append(method)
        return send(self, owner, method, params, options)

    monkeypatch.setattr(Connection, "send_message_to_server", counting)
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /form
        - web.fill: {label: Street, value: Hauptstr. 1}
        - web.click: {role: button, name: Nope, timeout: 0.3}
    """,
        ),
    )
    assert record.status == "failed_system"
    assert "tracingStart" in sent  # the case was traced ...
    assert "addStackToTracingNoReply" not in sent  # ... without a message per call for its stacks
    trace = next(Path(p) for s in record.steps for p in s.artifacts if p.endswith(".zip"))
    with zipfile.ZipFile(trace) as archive:
        events = b"".join(archive.read(name) for name in archive.namelist() if name.endswith(".trace"))
    assert b'"goto"' in events and b'"fill"' in events and b'"click"' in events
