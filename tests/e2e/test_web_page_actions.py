"""Reload, the page's address, values by their headers, iframe hints and refused logins, in a
real Chromium against tests/e2e/webpages.py."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from robots.drivers.web_session import WebSessions
from robots.language.loader import parse_workflow
from robots.language.model import Workflow
from robots.language.project import Project
from tests.e2e import webpages
from tests.e2e.test_web_actions import flow, run

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
    return Project(tmp_path)


def test_reload_shows_what_changed_and_read_url_gives_its_parts(
    site: str, project: Project, sessions: WebSessions
) -> None:
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /counter?view=full#top
        - web.read: {test_id: count}
          as: before
        - web.reload
        - web.read: {test_id: count}
          as: after
        - web.read_url: path
          as: path
        - web.read_url: query
          as: query
        - web.read_url: url
          as: url
        - output: {before: "{{ before }}", after: "{{ after }}", path: "{{ path }}", view: "{{ query.view }}"}
    """,
        ),
    )
    assert record.status == "done", record.error
    assert int(record.outputs["after"]) == int(record.outputs["before"]) + 1
    assert record.outputs["path"] == "/counter" and record.outputs["view"] == "full"
    assert record.steps[-2].outputs == f"{site}/counter?view=full#top"


def test_read_values_by_their_row_or_column_headers(
    site: str, project: Project, sessions: WebSessions
) -> None:
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /record
        - web.read_field: {header: Segment}
          as: segment
        - web.read_field: {header: Anschrift}
          as: address
        - web.read_field: {column: Status, row: O-100002}
          as: status
        - web.read_field: {column: Total, row: O-100001, key_column: Order}
          as: total
        - output:
            {segment: "{{ segment }}", address: "{{ address }}", status: "{{ status }}", total: "{{ total }}"}
    """,
        ),
    )
    assert record.status == "done", record.error
    assert record.outputs == {
        "segment": "A",
        "address": "Hauptstraße 5, 10115 Berlin",
        "status": "shipped",
        "total": "10 EUR",
    }


def test_a_header_that_is_not_there_lists_the_headers_the_page_has(
    site: str, project: Project, sessions: WebSessions
) -> None:
    record = run(
        project,
        sessions,
        flow(site, "- web.goto: /record\n- web.read_field: {header: Adresse, timeout: 1}"),
    )
    assert record.status == "failed_system"
    assert "read the value beside 'Adresse': nothing matches on" in (record.error or "")
    assert "row headers: «'Kunde', 'Segment', 'Anschrift', 'Tarif'»" in (record.error or "")
    assert "column headers: «'Order', 'Status', 'Total'»" in (record.error or "")


def test_a_label_inside_an_iframe_is_pointed_out(site: str, project: Project, sessions: WebSessions) -> None:
    record = run(
        project,
        sessions,
        flow(site, "- web.goto: /form\n- web.fill: {label: Postal code, value: '10115', timeout: 1}"),
    )
    assert record.status == "failed_system"
    assert "an iframe has it: iframe[title='Edit address']" in (record.error or ""), record.error
    assert "add - web.frame: \"iframe[title='Edit address']\" before this step" in (record.error or "")


def test_an_error_inside_an_iframe_names_the_iframe_and_its_url(
    site: str, project: Project, sessions: WebSessions
) -> None:
    record = run(
        project,
        sessions,
        flow(
            site,
            """
        - web.goto: /form
        - web.frame: "iframe[title='Edit address']"
        - web.fill: {label: Street, value: x, timeout: 1}
    """,
        ),
    )
    assert record.status == "failed_system"
    assert f"in iframe \"iframe[title='Edit address']\" ({site}/frame)" in (record.error or ""), record.error


def test_a_refused_login_fails_at_once_quoting_the_page(
    site: str, sessions: WebSessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "de_login.yaml").write_text(
        textwrap.dedent("""
        name: de_login
        runs_in: web
        steps:
          - web.goto: /login-de
          - web.fill: {label: Benutzer, value: robot}
          - web.fill: {label: Passwort, value: "{{ secret('de.password') }}"}
          - web.click: {role: button, name: Anmelden, expect_navigation: true}
          - web.expect: {role: button, name: Abmelden}
        """)
    )
    monkeypatch.setenv("TANDEM_SECRET_DE_PASSWORD", "wrong")
    source = textwrap.dedent(f"""
        name: t
        systems:
          de: {{kind: web, url: "{site}", login: de_login}}
        steps:
          - in: de
            retry: {{attempts: 3, backoff: 1s}}
            steps:
              - web.expect: {{text: Willkommen}}
    """)
    parsed, problems = parse_workflow(source, "t.yaml")  # a system of its own, with its login
    assert parsed is not None and not problems
    started = time.monotonic()
    record = run(Project(tmp_path), sessions, parsed)
    assert record.status == "failed_system"
    assert "the login to de was refused: the page says «Anmeldung fehlgeschlagen.»" in (record.error or "")
    assert time.monotonic() - started < 5  # at once, and not retried: a retry cannot help


def test_a_system_with_a_locale_gets_the_pages_in_its_language(
    site: str, project: Project, sessions: WebSessions
) -> None:
    """An app that follows the browser's language (Django's admin, for one) shows a robot
    the screens the workflow names only when the system says which language that is."""
    steps = (
        "- web.goto: /language\n- web.read: {role: heading}\n  as: heading\n"
        "- output: {heading: '{{ heading }}'}"
    )
    german = flow(site, steps).model_dump(by_alias=True, exclude_none=True)
    german["systems"]["site"]["locale"] = "de-DE"  # the same name: a session of its own all the same
    assert run(project, sessions, Workflow.model_validate(german)).outputs == {"heading": "Kunden"}
    assert run(project, sessions, flow(site, steps)).outputs == {"heading": "Customers"}


def test_the_headers_listed_are_the_ones_to_write_not_their_capitals_on_screen(
    site: str, project: Project, sessions: WebSessions
) -> None:
    record = run(
        project,
        sessions,
        flow(site, "- web.goto: /shouting\n- web.read_field: {column: Strasse, row: K000001, timeout: 1}"),
    )
    assert record.status == "failed_system"
    assert "column headers: «'Kundennummer', 'Straße'»" in (record.error or ""), record.error
    record = run(
        project,
        sessions,
        flow(site, "- web.goto: /shouting\n- web.read_field: {column: Straße, row: K000001}"),
    )
    assert record.status == "done", record.error
    assert record.steps[-1].outputs == "Hauptstraße 1"


def test_what_the_page_has_is_listed_as_written_not_as_capitalised(
    site: str, project: Project, sessions: WebSessions
) -> None:
    record = run(
        project,
        sessions,
        flow(site, "- web.goto: /entered\n- web.click: {role: link, name: Kunden, timeout: 1}"),
    )
    assert record.status == "failed_system"
    assert "the page has these links: «'Customers'" in (record.error or ""), record.error
