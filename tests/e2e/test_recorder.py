"""``run.py record``: a scripted person works in the recorder's visible browser (on the
recorder's own Xvfb, driven over Chromium's debugging port); the recorded workflow
validates, runs, and does the same work in the demo apps."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo.data import LOGINS
from demo.server import DemoApps
from robots.drivers.browser import acquire_playwright, release_playwright
from robots.language.project import Project
from tests.conftest import ROOT
from tests.e2e import webpages
from tests.e2e.conftest import Robot

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Recording:
    """A ``run.py record`` process and the person at its browser."""

    def __init__(self, args: list[str], output: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.output = output
        self.log = log
        environment = {**env, "TANDEM_HOME": str(ROOT)}
        environment.pop("DISPLAY", None)  # the recorder starts its own Xvfb
        self.process = subprocess.Popen(
            [
                sys.executable,
                "run.py",
                "record",
                *args,
                "--output",
                str(output),
                "--debug-port",
                str(self.port),
            ],
            cwd=ROOT,
            env=environment,
            stdout=open(log, "w"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
        )
        self.playwright = acquire_playwright()
        self.browser: Any = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # The recording runs once the start page is in the file.
            if output.exists() and "web.goto" in output.read_text(encoding="utf-8"):
                break
            assert self.process.poll() is None, log.read_text()
            time.sleep(0.2)
        else:
            pytest.fail(f"the recorder did not start: {log.read_text()}")
        self.browser = self.playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{self.port}")
        (self.page,) = [p for c in self.browser.contexts for p in c.pages]
        # Leave dialogs to the recorder (a client without a handler would dismiss them).
        self.page.on("dialog", lambda dialog: None)

    def steps(self) -> list[Any]:
        return list(yaml.safe_load(self.output.read_text(encoding="utf-8"))["steps"][0]["steps"])

    def wait_for(self, condition: Callable[[list[Any]], bool]) -> list[Any]:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            steps = self.steps()
            if condition(steps):
                return steps
            time.sleep(0.1)
        pytest.fail(f"not recorded: {self.output.read_text(encoding='utf-8')}")

    def stop(self) -> str:
        if self.browser is not None:
            self.browser.close()  # disconnects; the recorder's browser stays its own
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            release_playwright()
        assert self.process.returncode == 0, self.log.read_text()
        return self.output.read_text(encoding="utf-8")


@pytest.fixture
def recorder(robot_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Recording]]:
    started: list[Recording] = []

    def start(*args: str) -> Recording:
        recording = Recording(
            list(args), tmp_path / "recorded.yaml", {**os.environ, **robot_env}, tmp_path / "rec.log"
        )
        started.append(recording)
        return recording

    yield start
    for recording in started:
        if recording.process.poll() is None:
            recording.process.kill()
            recording.process.wait()


def load(path: Path) -> Any:
    return Project(ROOT).load(path)


def test_a_recorded_address_change_in_an_iframe_runs_and_saves_the_same(
    recorder: Callable[..., Recording], demo: DemoApps, robot: Robot, tmp_path: Path
) -> None:
    person = recorder("--system", "crm", "--start", "/customers/C000005", "--name", "recorded_address")
    page = person.page
    page.get_by_role("button", name="Edit address").click()
    form = page.frame_locator("iframe[title='Edit address']")
    form.get_by_label("Street").fill("Aufnahmeweg 7")
    form.get_by_label("Postal code").fill("10115")
    form.get_by_label("City").fill("Berlin")
    form.get_by_role("button", name="Save address").click()
    form.get_by_text("Address saved").wait_for()
    text = person.stop()

    saved = [e["after"] for e in demo.audit("crm") if e["action"] == "address_changed"]
    assert saved == [{"street": "Aufnahmeweg 7", "postal_code": "10115", "city": "Berlin"}], saved
    steps = yaml.safe_load(text)["steps"][0]["steps"]
    assert steps[0] == {"web.goto": "/customers/C000005"}
    assert {"web.click": {"role": "button", "name": "Edit address"}} in steps
    assert {"web.frame": 'iframe[title="Edit address"]'} in steps
    assert {"web.fill": {"label": "Street", "value": "Aufnahmeweg 7"}} in steps
    dialog = steps.index(next(s for s in steps if "web.dialog" in s))
    assert steps[dialog + 1] == {"web.click": {"role": "button", "name": "Save address"}}
    assert steps[-1] == {"web.frame": {"main": True}}
    assert "css" not in text
    # The person sees the steps in the terminal as they are recorded.
    assert "- web.click: {role: button, name: Edit address}" in person.log.read_text(encoding="utf-8")

    # It is the recording docs/writing-workflows.md shows.
    guide = (ROOT / "docs" / "writing-workflows.md").read_text(encoding="utf-8")
    (shown,) = [
        b for b in re.findall(r"^```yaml workflow\n(.*?)^```", guide, re.S | re.M) if "recorded_address" in b
    ]
    assert yaml.safe_load(shown) == yaml.safe_load(text)

    # The recorded workflow validates and, run by a robot, does the same work again.
    problems = Project(ROOT).validate([person.output])
    assert problems == [], problems
    demo.reset()
    record = robot.run(load(person.output), {})
    assert record.status == "done", record.error
    again = [e["after"] for e in demo.audit("crm") if e["action"] == "address_changed"]
    assert again == saved


def test_a_typed_password_is_recorded_as_a_secret_reference(
    recorder: Callable[..., Recording], demo: DemoApps, robot: Robot
) -> None:
    ((user, password),) = LOGINS["billing"].items()
    person = recorder("--url", f"{demo.urls['billing']}/login", "--credentials", "billing_robot")
    page = person.page
    page.get_by_label("User ID").fill(user)
    page.get_by_label("Passcode").fill(password)
    page.get_by_role("button", name="Log on").click()
    person.wait_for(
        lambda steps: any("web.click" in s and s["web.click"].get("expect_navigation") for s in steps)
    )
    text = person.stop()

    assert password not in text
    steps = yaml.safe_load(text)["steps"][0]["steps"]
    assert {"web.fill": {"label": "Passcode", "value": '{{ secret("billing_robot.password") }}'}} in steps
    assert {"web.click": {"role": "button", "name": "Log on", "expect_navigation": True}} in steps
    assert Project(ROOT).validate([person.output]) == []
    logins = sum(1 for e in demo.audit("billing") if e["action"] == "login")
    record = robot.run(load(person.output), {})
    assert record.status == "done", record.error
    assert sum(1 for e in demo.audit("billing") if e["action"] == "login") == logins + 1


def test_a_recorded_booking_with_a_choice_and_a_tick_books_the_same_slot(
    recorder: Callable[..., Recording], demo: DemoApps, robot: Robot
) -> None:
    person = recorder("--system", "suedexpress", "--start", "/booking", "--name", "recorded_booking")
    page = person.page
    page.get_by_label("Order no.").fill("O-100003")
    page.get_by_label("ZIP").fill("80331")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Delivery window").select_option(index=1)
    page.get_by_label("I confirm the delivery appointment").check()
    page.get_by_role("button", name="Book appointment").click()
    page.get_by_test_id("booking-number").wait_for()
    person.wait_for(lambda steps: "expect_navigation" in str(steps[-1]))
    text = person.stop()

    booked = [e["after"] for e in demo.audit("suedexpress") if e["action"] == "slot_booked"]
    (first,) = booked
    steps = yaml.safe_load(text)["steps"][0]["steps"]
    assert {
        "web.select": {"label": "Delivery window", "option": f"{first['date']} {first['window']}"}
    } in steps
    assert {"web.check": {"label": "I confirm the delivery appointment", "checked": True}} in steps
    assert {"web.click": {"role": "button", "name": "Continue", "expect_navigation": True}} in steps
    assert Project(ROOT).validate([person.output]) == []
    demo.reset()
    record = robot.run(load(person.output), {})
    assert record.status == "done", record.error
    again = [e["after"] for e in demo.audit("suedexpress") if e["action"] == "slot_booked"]
    assert [(b["order"], b["date"], b["window"]) for b in again] == [
        ("O-100003", first["date"], first["window"])
    ]


def test_enter_that_sends_a_form_is_one_step_and_capitalised_names_are_recorded_as_written(
    recorder: Callable[..., Recording], robot: Robot
) -> None:
    """Django's admin: Enter in the password field sends the form, and the browser clicks the
    form's button for it; the style sheet shows 'LOG IN' and 'KUNDEN' for 'Log in' and
    'Kunden'. A recording held the press and a click on the button (which the robot then
    looked for on the next page), and names in capitals that match nothing exactly."""
    with webpages.serve() as site:
        person = recorder("--url", f"{site}/enter")
        page = person.page
        page.get_by_label("Customer number").fill("C000007")
        page.get_by_label("Customer number").press("Enter")
        page.wait_for_url("**/entered*")
        page.get_by_role("link", name="Customers").click()
        person.wait_for(lambda steps: any("web.click" in s for s in steps))
        text = person.stop()
        steps = yaml.safe_load(text)["steps"][0]["steps"]
        assert not any("web.click" in s and s["web.click"].get("role") == "button" for s in steps), text
        assert {"web.press": {"label": "Customer number", "key": "Enter"}} in steps, text
        (click,) = [s["web.click"] for s in steps if "web.click" in s]
        assert click["name"] == "Customers", text
        record = robot.run(load(person.output), {})
        assert record.status == "done", record.error
