"""From a person's browser events to workflow steps (``run.py record``), without a browser."""

from __future__ import annotations

import yaml

from robots.language.loader import parse_workflow
from robots.language.recording import Recording

BASE = "http://127.0.0.1:8101"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def recording() -> tuple[Recording, Clock]:
    clock = Clock()
    return Recording(system="crm", base_url=BASE, credentials="crm_robot", clock=clock), clock


def test_typing_gives_one_fill_per_field_and_a_password_only_as_a_secret() -> None:
    rec, _ = recording()
    for value in ("H", "Ha", "Hauptstraße 5"):
        rec.event({"type": "fill", "value": value, "locator": {"label": "Street"}, "frames": []})
    rec.event({"type": "fill", "password": True, "locator": {"label": "Password"}, "frames": []})
    rec.event({"type": "fill", "password": True, "locator": {"label": "Password"}, "frames": []})
    assert rec.steps == [
        {"web.fill": {"label": "Street", "value": "Hauptstraße 5"}},
        {"web.fill": {"label": "Password", "value": '{{ secret("crm_robot.password") }}'}},
    ]


def test_iframes_dialogs_and_page_loads_become_their_steps() -> None:
    rec, clock = recording()
    rec.navigated(f"{BASE}/customers/C000001?tab=1")
    rec.event({"type": "click", "locator": {"role": "button", "name": "Edit"}, "frames": []})
    rec.event(
        {"type": "fill", "value": "x", "locator": {"label": "Street"}, "frames": ['iframe[title="Edit"]']}
    )
    rec.event(
        {"type": "click", "locator": {"role": "button", "name": "Save"}, "frames": ['iframe[title="Edit"]']}
    )
    rec.dialog("Save the new\naddress?")
    rec.event({"type": "expect", "text": "Saving...", "frames": ['iframe[title="Edit"]']})
    rec.event({"type": "expect", "text": "Saved", "frames": ['iframe[title="Edit"]']})
    clock.now += 10
    rec.event({"type": "click", "locator": {"role": "link", "name": "Next"}, "frames": []})
    rec.navigated(f"{BASE}/next")
    clock.now += 10
    rec.navigated("http://elsewhere.example/x")
    assert rec.steps == [
        {"web.goto": "/customers/C000001?tab=1"},
        {"web.click": {"role": "button", "name": "Edit"}},
        {"web.frame": 'iframe[title="Edit"]'},
        {"web.fill": {"label": "Street", "value": "x"}},
        {"web.dialog": "accept", "name": "the page asks: Save the new address?"},
        {"web.click": {"role": "button", "name": "Save"}},
        {"web.expect": {"text": "Saved", "timeout": 20}},
        {"web.frame": {"main": True}},
        {"web.click": {"role": "link", "name": "Next", "expect_navigation": True}},
        {"web.goto": "http://elsewhere.example/x"},
    ]


def test_the_yaml_is_a_workflow_that_loads_with_one_step_per_line() -> None:
    rec, _ = recording()
    rec.navigated(f"{BASE}/customers")
    rec.event({"type": "fill", "value": "10115", "locator": {"label": "Search customers"}, "frames": []})
    rec.event({"type": "press", "key": "Enter", "locator": {"label": "Search customers"}, "frames": []})
    text = rec.yaml("recorded", {"kind": "web", "url": BASE})
    assert "  - web.fill: {label: Search customers, value: '10115'}\n" in text
    assert "  - web.goto: /customers\n" in text
    flow, problems = parse_workflow(text, "recorded.yaml")
    assert problems == [] and flow is not None
    assert yaml.safe_load(text)["systems"] == {"crm": {"kind": "web", "url": BASE}}


def test_what_to_record_in_is_checked_before_a_browser_starts() -> None:
    import pytest

    from robots.engine.record_console import RecordError, target_for
    from robots.language.project import Project
    from tests.conftest import ROOT

    project = Project(ROOT)
    crm = target_for(project, system="crm", url=None, start=None)
    assert (crm.system, crm.spec.login, crm.start) == ("crm", "crm_login", "/")
    page = target_for(project, system=None, url="http://127.0.0.1:8102/login?next=/x", start=None)
    assert (page.system, page.spec.url, page.start) == ("app", "http://127.0.0.1:8102", "/login?next=/x")
    for system, url, message in [
        ("nope", None, "no workflow of the project declares a system 'nope' (systems: billing, crm"),
        ("terminal", None, "'terminal' is a terminal system: the recorder records web systems"),
        (None, "ftp://x", "--url needs an address like http://"),
        (None, None, "give --system NAME"),
        ("crm", "http://x", "give --system NAME"),
    ]:
        with pytest.raises(RecordError, match=message.replace("(", r"\(")):
            target_for(project, system=system, url=url, start=None)
