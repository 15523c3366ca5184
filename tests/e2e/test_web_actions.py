"""Web actions against a real Chromium and a local app (tests/e2e/webpages.py)."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from robots.engine import Engine
from robots.humans import InMemoryHumans
from robots.loader import parse_workflow
from robots.model import Workflow
from robots.project import Project
from robots.records import RunRecord
from robots.systems import ByKind
from robots.web import WebSessions
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


def flow(site: str, steps: str, *, login: bool = False) -> Workflow:
    system = (
        f'{{kind: web, url: "{site}"'
        + (", login: site_login, logged_out: 'text=Please sign in'" if login else "")
        + "}"
    )
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
    assert "expected label='City' value='Hamburg', but the value is 'Berlin'" in record.error


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


def test_login_once_and_again_after_expiry(
    site: str, project: Project, sessions: WebSessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    monkeypatch.setenv("TANDEM_SECRET_SITE_PASSWORD", "pw-123")
    workflow = flow(site, "- web.goto: /home\n- web.expect: {text: Welcome back}", login=True)
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
