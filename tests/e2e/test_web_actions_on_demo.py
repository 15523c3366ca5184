"""The web actions not covered elsewhere (press, hover, wait_for, expect count/URL, read modes,
screenshot, evaluate), against the demo CRM with the shared robot."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from PIL import Image

from demo import data
from demo.server import DemoApps
from robots.language.loader import parse_workflow
from robots.language.model import Workflow
from tests.e2e.conftest import Robot

pytestmark = pytest.mark.e2e


def crm_flow(steps: str, outputs: str = "") -> Workflow:
    text = textwrap.dedent("""
        name: crm_actions
        systems:
          crm: {kind: web, url: "${CRM_URL}", login: crm_login, credentials: crm_robot,
                logged_out: "text=Your session has expired"}
        steps:
          - in: crm
            steps:
        """).lstrip()
    text += textwrap.indent(textwrap.dedent(steps).strip(), " " * 6) + "\n"
    if outputs:
        text += "outputs:\n" + textwrap.indent(textwrap.dedent(outputs).strip(), "  ") + "\n"
    workflow, problems = parse_workflow(text, "crm_actions.yaml")
    assert not problems, problems
    assert workflow is not None
    return workflow


def test_search_by_keyboard_and_read_the_results_every_way(robot: Robot, demo: DemoApps) -> None:
    hamburg = sorted(c["name"] for c in data.customers().values() if c["postal_code"] == "20095")
    record = robot.run(
        crm_flow(
            """
            - web.goto: /customers
            - web.fill: {placeholder: "Customer number, name or postal code", value: "20095"}
            - web.press: {label: Search customers, key: Enter}
            - web.wait_for: {url: "**/customers?q=20095"}
            - web.wait_for: {load_state: networkidle}
            - web.expect: {url: "re:.*q=20095$"}
            - web.expect: {role: row, count: COUNT, within: "table[aria-label='Search results'] tbody"}
            - web.read: {css: "table tbody td:nth-child(2)", what: texts}
              as: names
            - web.read: {role: row, what: count}
              as: rows
            - web.read: {role: link, name: Jonas Müller, what: attribute, attribute: href}
              as: href
            - web.hover: {role: link, name: Jonas Müller}
            - web.evaluate: "Array.from(document.querySelectorAll(':hover')).pop().textContent"
              as: hovered
            - web.evaluate: {script: "(n) => document.title.length > n", arg: 3}
              as: has_title
            - web.screenshot: {path: results.png}
              as: shot
            """.replace("COUNT", str(len(hamburg))),
            """
            names: "{{ names }}"
            rows: "{{ rows }}"
            href: "{{ href }}"
            hovered: "{{ hovered }}"
            has_title: "{{ has_title }}"
            shot: "{{ shot }}"
            """,
        ),
        {},
    )
    assert record.status == "done", record.error
    assert sorted(record.outputs["names"]) == hamburg
    assert record.outputs["rows"] == len(hamburg) + 1  # and the header row
    assert record.outputs["href"] == "/customers/C000002"
    assert record.outputs["hovered"] == "Jonas Müller"
    assert record.outputs["has_title"] is True
    with Image.open(Path(record.outputs["shot"])) as shot:
        assert shot.format == "PNG" and shot.size[0] > 0


def test_waits_and_counts_that_do_not_come_true_say_what_there_was(robot: Robot, demo: DemoApps) -> None:
    url = robot.run(crm_flow("- web.goto: /customers\n- web.wait_for: {url: '**/never', timeout: 0.5}"), {})
    assert url.status == "failed_system"
    assert "waiting for **/never failed on http://" in (url.error or "")
    assert "/customers: " in (url.error or "")  # where the page was instead
    count = robot.run(
        crm_flow("- web.goto: /customers/C000001\n- web.expect: {role: button, count: 7, timeout: 0.5}"), {}
    )
    assert count.status == "failed_system"
    assert count.error == "expected role='button' count=7, but 2 elements match"
